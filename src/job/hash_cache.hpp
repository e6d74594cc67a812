#pragma once
// The SHA-256s of a folder's files as the last run found them, so an
// unchanged file is not read again: a re-run of 100 GB of inputs would
// otherwise hash 100 GB (a minute or more) before it could say "nothing to
// send".
//
// An entry is trusted only while the file's stat is exactly what it was
// (device, inode, size, mtime and ctime to the nanosecond), as git's index
// does. A file written in the same timestamp tick as it was hashed can change
// without its stat changing (git's "racy" case), so a file modified less than
// kRacyWindow before its hashing began is not remembered, only hashed again
// next time.
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "job/manifest.hpp"

namespace hoist::job {

// hoist's cache folder: $XDG_CACHE_HOME/hoist, else ~/.cache/hoist ("" when neither is set).
std::string cache_root();
// Writes `data` to `path` whole or not at all (a temporary file beside it,
// owner-only, then renamed over it); false when it could not.
bool write_private_file(const std::string& path, const std::string& data);

class HashCache {
 public:
  static constexpr std::chrono::seconds kRacyWindow{2};  // FAT and HFS+ keep 1-2 s mtimes

  // The cache of the folder `root` under `dir`. A missing, unreadable or
  // damaged cache file is an empty cache; an empty `dir` means no cache.
  HashCache(const std::string& dir, const std::string& root);

  // Where hoist keeps its caches: $XDG_CACHE_HOME/hoist/hashes, else
  // $HOME/.cache/hoist/hashes; "" (no cache) when neither is set.
  static std::string default_dir();

  // The remembered hash of `name` if its stat still matches.
  [[nodiscard]] std::optional<std::string> find(const std::string& name, const FileEntry& f) const;
  // Keeps f.sha256 for next time unless f was modified within kRacyWindow of
  // `hashing_began`.
  void remember(const std::string& name, const FileEntry& f, std::chrono::system_clock::time_point hashing_began);
  // Trusts nothing remembered so far (`hoist run --rehash`); what is hashed
  // now is still remembered.
  void forget_all() { entries_.clear(); }
  // Writes the entries found or remembered in this run (files since deleted
  // drop out) to a temporary file renamed over the cache, and removes the
  // temporaries of runs killed while saving. Failures are ignored: it is
  // only a cache.
  void save() const;

  [[nodiscard]] const std::string& path() const { return path_; }

 private:
  struct Entry {
    std::uint64_t size = 0, dev = 0, ino = 0;
    std::int64_t mtime_ns = 0, ctime_ns = 0;
    std::string sha256;
    mutable bool used = false;  // found or remembered in this run: saved
  };
  std::string root_;  // the folder, absolute
  std::string path_;  // of the cache file; "" : no cache
  std::map<std::string, Entry> entries_;
};

}  // namespace hoist::job
