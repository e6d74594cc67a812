#include "job/manifest.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <system_error>

#include "aws/crypto.hpp"
#include "aws/http.hpp"
#include "job/hash_cache.hpp"
#include "util/error.hpp"

namespace fs = std::filesystem;

namespace hoist::job {

namespace {

const char* special_kind(mode_t mode) {
  if (S_ISFIFO(mode)) return "a FIFO (named pipe)";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISCHR(mode)) return "a character device";
  return "neither a file nor a folder";
}

using Skip = std::function<bool(const std::string&, bool)>;

// A depth-first walk that follows links, keeping the folders from the root
// down to the current one (as stat names them: device and inode) to tell a
// loop from a folder merely reached twice.
class Walk {
 public:
  Walk(const Skip& skip, Exit code, Manifest& out) : skip_(skip), code_(code), out_(out) {}

  void folder(const fs::path& dir, const std::string& rel_dir, const struct stat& st) {
    ancestors_.emplace_back(st.st_dev, st.st_ino);
    std::error_code ec;
    fs::directory_iterator it(dir, ec);
    if (ec) throw Fatal(code_, "cannot read folder " + dir.string() + ": " + ec.message());
    for (auto end = fs::directory_iterator(); it != end; it.increment(ec)) {
      if (ec) throw Fatal(code_, "cannot read folder " + dir.string() + ": " + ec.message());
      entry(it->path(),
            rel_dir.empty() ? it->path().filename().string() : rel_dir + "/" + it->path().filename().string());
    }
    ancestors_.pop_back();
  }

 private:
  void entry(const fs::path& p, std::string rel) {
    struct stat st {};
    if (::stat(p.c_str(), &st) != 0) {
      struct stat link {};
      // Gone since the folder was read: nothing to send.
      if (::lstat(p.c_str(), &link) != 0 || !S_ISLNK(link.st_mode) || (skip_ && skip_(rel, false))) return;
      std::error_code ec;
      refuse(p, "is a symbolic link to nothing (" + fs::read_symlink(p, ec).string() + ")",
             "remove it or fix its target");
    }
    const bool is_dir = S_ISDIR(st.st_mode);
    if (skip_ && skip_(rel, is_dir)) return;
    if (is_dir) {
      if (std::ranges::find(ancestors_, std::pair{st.st_dev, st.st_ino}) != ancestors_.end())
        refuse(p, "is a symbolic link to a folder that holds it (a loop)", "remove the link or point it elsewhere");
      folder(p, rel, st);
      return;
    }
    if (!S_ISREG(st.st_mode))
      refuse(p, std::string("is ") + special_kind(st.st_mode), "hoist sends regular files only; move it out");
    FileEntry e;
    e.path = p.string();
    e.size = static_cast<std::uint64_t>(st.st_size);
    e.mode = static_cast<unsigned>(st.st_mode & 0777);
    e.dev = static_cast<std::uint64_t>(st.st_dev);
    e.ino = static_cast<std::uint64_t>(st.st_ino);
    e.mtime_ns = static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
    e.ctime_ns = static_cast<std::int64_t>(st.st_ctim.tv_sec) * 1'000'000'000 + st.st_ctim.tv_nsec;
    out_.emplace(std::move(rel), std::move(e));
  }

  [[noreturn]] void refuse(const fs::path& p, const std::string& problem, const std::string& fix) const {
    // The project's files may also be left out by name.
    const std::string or_ignore = code_ == Exit::project_missing ? " (or list it in .hoistignore)" : "";
    throw Fatal(code_, p.string() + " " + problem + ": " + fix + or_ignore);
  }

  const Skip& skip_;
  Exit code_;
  Manifest& out_;
  std::vector<std::pair<dev_t, ino_t>> ancestors_;
};

}  // namespace

Manifest list_files(const std::string& root, const Skip& skip, Exit code) {
  Manifest out;
  struct stat st {};
  const int error = ::stat(root.c_str(), &st) != 0 ? errno : S_ISDIR(st.st_mode) ? 0 : ENOTDIR;
  if (error != 0)
    throw Fatal(code, "cannot read folder " + root + ": " + std::error_code(error, std::generic_category()).message());
  Walk(skip, code, out).folder(root, "", st);
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

bool is_sha256_hex(std::string_view s) {
  return s.size() == 64 &&
         std::ranges::all_of(s, [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

bool safe_relative_name(std::string_view name) {
  if (name.empty() || name.front() == '/' || name.find('\0') != std::string_view::npos) return false;
  std::size_t pos = 0;
  while (pos <= name.size()) {
    std::size_t slash = name.find('/', pos);
    std::string_view seg = name.substr(pos, slash == std::string_view::npos ? std::string_view::npos : slash - pos);
    if (seg.empty() || seg == "." || seg == "..") return false;
    if (slash == std::string_view::npos) break;
    pos = slash + 1;
  }
  return true;
}

}  // namespace hoist::job
