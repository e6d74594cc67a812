#pragma once
// A folder as content-addressed files: relative name -> sha256, size, mode.
#include <cstdint>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "util/error.hpp"

namespace hoist::job {

struct FileEntry {
  std::string path;  // on this machine
  std::uint64_t size = 0;
  unsigned mode = 0644;
  std::string sha256;  // hex
  // What stat said when the file was listed: a cached hash is trusted only
  // while all of these are unchanged (see HashCache).
  std::uint64_t dev = 0, ino = 0;
  std::int64_t mtime_ns = 0, ctime_ns = 0;
};

// Relative '/'-separated name -> file. Ordered, so job.json is stable.
using Manifest = std::map<std::string, FileEntry>;

// Lists the regular files under `root`, skipping folders/files for which
// `skip(relative, is_dir)` is true. Symbolic links to files and folders are
// followed, as `aws s3 sync` does: what a link reaches is listed under the
// link's name. Refused with Fatal(`code`), naming the path, unless skipped:
// a FIFO, socket or device (nothing to upload, and reading a FIFO blocks);
// a link to nothing; a link to a folder that holds it (a loop, endless).
// Hashes are left empty: hash_files fills them.
Manifest list_files(const std::string& root, const std::function<bool(const std::string&, bool)>& skip = {},
                    Exit code = Exit::input_missing);

class HashCache;

struct HashStats {
  std::uint64_t files_read = 0, bytes_read = 0;  // hashed now
  std::uint64_t files_cached = 0;                // taken from the cache
  HashStats& operator+=(const HashStats& o) {
    files_read += o.files_read;
    bytes_read += o.bytes_read;
    files_cached += o.files_cached;
    return *this;
  }
};

// Computes every entry's sha256 in parallel, reading each file in blocks;
// with a cache, unchanged files are not read, and what was read is
// remembered (the caller saves the cache).
HashStats hash_files(Manifest& manifest, std::size_t parallelism, HashCache* cache = nullptr);

std::uint64_t total_bytes(const Manifest& manifest);
// {"rel": {"sha256": "...", "size": N, "mode": M}, ...}
nlohmann::json to_json(const Manifest& manifest);

// The key of a blob in the bucket.
inline std::string blob_key(const std::string& sha256) {
  return "blobs/sha256/" + sha256;
}

// The key of a set marker: blobs/sets/<sha256 over the sorted "<sha256>
// <size>" lines of a manifest's distinct blobs>. It is written only once every
// blob of the set is in the bucket; blobs are immutable and hoist never
// deletes one on its own (`hoist down --all` removes the whole bucket, markers
// included), so one HEAD answers for a whole unchanged folder. Empty for an
// empty manifest.
std::string set_key(const Manifest& manifest);

// True for a relative name safe to recreate on the instance: not empty, not
// absolute, no "." or ".." segment, no NUL.
bool safe_relative_name(std::string_view name);
// Whether `s` is a SHA-256 in lower-case hex, as manifests write them.
bool is_sha256_hex(std::string_view s);

}  // namespace hoist::job
