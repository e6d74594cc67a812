#include "job/manifest.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <system_error>

#include "aws/crypto.hpp"
#include "aws/http.hpp"
#include "job/hash_cache.hpp"
#include "util/error.hpp"

namespace fs = std::filesystem;

namespace hoist::job {

Manifest list_files(const std::string& root, const std::function<bool(const std::string&, bool)>& skip) {
  Manifest out;
  std::error_code ec;
  fs::recursive_directory_iterator it(root, fs::directory_options::none, ec);
  if (ec) throw Fatal(Exit::input_missing, "cannot read folder " + root + ": " + ec.message());
  for (auto end = fs::recursive_directory_iterator(); it != end; it.increment(ec)) {
    if (ec) throw Fatal(Exit::input_missing, "cannot read folder " + root + ": " + ec.message());
    const fs::path& p = it->path();
    // The iterator's paths all start with root + '/': strip it (fs::relative
    // canonicalises both sides, several syscalls a file).
    std::string rel = p.lexically_relative(root).generic_string();
    bool is_dir = it->is_directory(ec);
    if (skip && skip(rel, is_dir)) {
      if (is_dir) it.disable_recursion_pending();
      continue;
    }
    if (!it->is_regular_file(ec) || it->is_symlink(ec)) continue;
    struct stat st {};
    if (::stat(p.c_str(), &st) != 0) continue;
    FileEntry e;
    e.path = p.string();
    e.size = static_cast<std::uint64_t>(st.st_size);
    e.mode = static_cast<unsigned>(st.st_mode & 0777);
    e.dev = static_cast<std::uint64_t>(st.st_dev);
    e.ino = static_cast<std::uint64_t>(st.st_ino);
    e.mtime_ns = static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
    e.ctime_ns = static_cast<std::int64_t>(st.st_ctim.tv_sec) * 1'000'000'000 + st.st_ctim.tv_nsec;
    out.emplace(std::move(rel), std::move(e));
  }
  return out;
}

HashStats hash_files(Manifest& manifest, std::size_t parallelism, HashCache* cache) {
  HashStats stats;
  // Taken before any file is read: a file modified after this is not
  // trusted to the cache (HashCache::kRacyWindow).
  const auto began = std::chrono::system_clock::now();
  std::vector<std::pair<const std::string*, FileEntry*>> to_read;
  to_read.reserve(manifest.size());
  for (auto& [name, e] : manifest) {
    if (auto known = cache ? cache->find(name, e) : std::nullopt) {
      e.sha256 = std::move(*known);
      stats.files_cached++;
    } else {
      to_read.emplace_back(&name, &e);
      stats.files_read++;
      stats.bytes_read += e.size;
    }
  }
  // Exactly the listed size: one read for a small file instead of a second
  // one to find the end, and the same bytes the upload will send.
  aws::parallel_for(to_read.size(), parallelism, [&](std::size_t i) {
    FileEntry& e = *to_read[i].second;
    e.sha256 = aws::sha256_file(e.path, 0, e.size);
  });
  if (cache)
    for (const auto& [name, e] : to_read) cache->remember(*name, *e, began);
  return stats;
}

std::uint64_t total_bytes(const Manifest& manifest) {
  std::uint64_t n = 0;
  for (const auto& [name, e] : manifest) n += e.size;
  return n;
}

nlohmann::json to_json(const Manifest& manifest) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [name, e] : manifest) j[name] = {{"sha256", e.sha256}, {"size", e.size}, {"mode", e.mode}};
  return j;
}

std::string set_key(const Manifest& manifest) {
  if (manifest.empty()) return "";
  std::vector<std::string> lines;
  lines.reserve(manifest.size());
  for (const auto& [name, e] : manifest) lines.push_back(e.sha256 + " " + std::to_string(e.size) + "\n");
  std::sort(lines.begin(), lines.end());
  lines.erase(std::unique(lines.begin(), lines.end()), lines.end());
  std::string all;
  for (const auto& l : lines) all += l;
  return "blobs/sets/" + aws::sha256_hex(all);
}

bool safe_relative_name(std::string_view name) {
  if (name.empty() || name.front() == '/' || name.find('\0') != std::string_view::npos) return false;
  std::size_t pos = 0;
  while (pos <= name.size()) {
    std::size_t slash = name.find('/', pos);
    std::string_view seg = name.substr(pos, slash == std::string_view::npos ? name.npos : slash - pos);
    if (seg.empty() || seg == "." || seg == "..") return false;
    if (slash == std::string_view::npos) break;
    pos = slash + 1;
  }
  return true;
}

}  // namespace hoist::job
