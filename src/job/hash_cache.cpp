#include "job/hash_cache.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <system_error>

#include "aws/crypto.hpp"

namespace fs = std::filesystem;

namespace hoist::job {
namespace {

constexpr std::string_view kHeader = "hoist-hash-cache v1\t";

// The next tab-separated field of `line` as a number; false if it is not one.
template <typename T>
bool take_number(std::string_view& line, T& out) {
  const auto tab = line.find('\t');
  if (tab == std::string_view::npos) return false;
  const auto [end, ec] = std::from_chars(line.data(), line.data() + tab, out);
  if (ec != std::errc() || end != line.data() + tab) return false;
  line.remove_prefix(tab + 1);
  return true;
}

std::int64_t since_epoch_ns(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

// A run killed while it wrote its cache leaves its temporary file behind:
// remove this cache's temporaries older than an hour (a younger one may be
// another run's, still being written).
void remove_stale_temps(const std::string& cache_path) {
  std::error_code ec;
  const fs::path path(cache_path);
  const std::string stem = path.filename().string() + ".tmp";
  const auto cutoff = fs::file_time_type::clock::now() - std::chrono::hours(1);
  for (const auto& entry : fs::directory_iterator(path.parent_path(), ec)) {
    if (entry.path().filename().string().rfind(stem, 0) != 0) continue;
    std::error_code stat_error;
    if (auto written = entry.last_write_time(stat_error); !stat_error && written < cutoff) fs::remove(entry, ec);
  }
}

}  // namespace

std::string cache_root() {
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg != nullptr && xdg[0] == '/')
    return std::string(xdg) + "/hoist";
  if (const char* home = std::getenv("HOME"); home != nullptr && home[0] == '/')
    return std::string(home) + "/.cache/hoist";
  return "";
}

std::string HashCache::default_dir() {
  const std::string root = cache_root();
  return root.empty() ? root : root + "/hashes";
}

bool write_private_file(const std::string& path, const std::string& data) {
  std::random_device random;
  const std::string temp = path + ".tmp" + std::to_string(::getpid()) + "-" + std::to_string(random());
  {
    const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) return false;
    ::close(fd);
    std::ofstream out(temp, std::ios::binary | std::ios::trunc);
    out << data;
    out.flush();
    if (!out) {
      ::unlink(temp.c_str());
      return false;
    }
  }
  if (::rename(temp.c_str(), path.c_str()) == 0) return true;
  ::unlink(temp.c_str());
  return false;
}

HashCache::HashCache(const std::string& dir, const std::string& root) {
  if (dir.empty()) return;
  std::error_code ec;
  fs::path where = fs::weakly_canonical(fs::absolute(root, ec), ec);
  if (ec) return;
  root_ = where.string();
  path_ = dir + "/" + aws::sha256_hex(root_).substr(0, 32);

  std::ifstream in(path_, std::ios::binary);
  if (!in) return;
  std::string line;
  if (!std::getline(in, line) || line != std::string(kHeader) + root_) return;  // another folder's, or damaged
  std::map<std::string, Entry> loaded;
  while (std::getline(in, line)) {
    std::string_view rest = line;
    Entry e;
    if (rest.size() < 65 || rest[64] != '\t' || !is_sha256_hex(rest.substr(0, 64))) return;
    e.sha256 = std::string(rest.substr(0, 64));
    rest.remove_prefix(65);
    if (!take_number(rest, e.size) || !take_number(rest, e.dev) || !take_number(rest, e.ino) ||
        !take_number(rest, e.mtime_ns) || !take_number(rest, e.ctime_ns) || rest.empty())
      return;  // damaged: start afresh rather than trust any of it
    loaded.emplace(std::string(rest), std::move(e));
  }
  entries_ = std::move(loaded);
}

std::optional<std::string> HashCache::find(const std::string& name, const FileEntry& f) const {
  auto it = entries_.find(name);
  if (it == entries_.end()) return std::nullopt;
  const Entry& e = it->second;
  if (e.size != f.size || e.dev != f.dev || e.ino != f.ino || e.mtime_ns != f.mtime_ns || e.ctime_ns != f.ctime_ns)
    return std::nullopt;
  e.used = true;
  return e.sha256;
}

void HashCache::remember(const std::string& name, const FileEntry& f,
                         std::chrono::system_clock::time_point hashing_began) {
  if (path_.empty() || f.sha256.empty() || name.find('\n') != std::string::npos) return;
  const std::int64_t settled = since_epoch_ns(hashing_began - kRacyWindow);
  if (f.mtime_ns >= settled || f.ctime_ns >= settled) {
    entries_.erase(name);  // too fresh to vouch for: hash it again next time
    return;
  }
  entries_[name] = Entry{f.size, f.dev, f.ino, f.mtime_ns, f.ctime_ns, f.sha256, true};
}

void HashCache::save() const {
  if (path_.empty()) return;
  std::error_code ec;
  const fs::path dir = fs::path(path_).parent_path();
  fs::create_directories(dir, ec);
  if (ec) return;
  fs::permissions(dir, fs::perms::owner_all, fs::perm_options::replace, ec);  // file names are the user's business
  // The header names the folder: another folder's cache under the same
  // (truncated) file name is read as no cache.
  std::ostringstream out;
  out << kHeader << root_ << "\n";
  for (const auto& [name, e] : entries_) {
    if (!e.used) continue;
    out << e.sha256 << '\t' << e.size << '\t' << e.dev << '\t' << e.ino << '\t' << e.mtime_ns << '\t' << e.ctime_ns
        << '\t' << name << '\n';
  }
  write_private_file(path_, out.str());
  remove_stale_temps(path_);
}

}  // namespace hoist::job
