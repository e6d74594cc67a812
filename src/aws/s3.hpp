#pragma once
// S3 (rest-xml): the bucket and object operations hoist needs. Keys are
// passed raw and encoded here; large transfers are streamed from/to files in
// parallel parts with bounded memory.
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "aws/client.hpp"

namespace hoist::aws {

struct S3Uri {
  std::string bucket;
  std::string key;                           // may be empty or a prefix
  static S3Uri parse(std::string_view uri);  // throws Failure (bad_input)
  [[nodiscard]] std::string str() const;
};

struct ObjectInfo {
  std::string key;
  std::uint64_t size = 0;
  std::string etag;
  std::string last_modified;
};

struct TransferProgress {
  std::function<void(std::uint64_t bytes)> on_bytes;  // called from worker threads
};

struct TransferOptions {
  std::uint64_t multipart_threshold = 16ull << 20;  // above this: multipart / ranged GET
  std::uint64_t part_size = 8ull << 20;             // grown to keep parts <= 10,000
  std::size_t parallelism = 8;
  TransferProgress progress;
};

// A local file as its caller already hashed and sized it.
struct KnownFile {
  std::string sha256_hex;             // empty: unknown
  std::optional<std::uint64_t> size;  // nullopt: unknown
};

struct BucketSettings {
  std::map<std::string, std::string> tags;
  bool block_public_access = true;
  bool default_encryption = true;
  bool tls_only_policy = true;
  // Parts of multipart uploads that never completed (a killed upload, an
  // instance ended mid-upload) are billed but listed nowhere: a lifecycle
  // rule removes them this many days after they began (0: no rule).
  int abort_incomplete_uploads_days = 1;
  // A second rule expires every object under `expire_prefix` this many days
  // after it was written (0: no such rule).
  std::string expire_prefix;
  int expire_days = 0;
  // What the caller's own HeadBucket has just found (nullopt: ask). In
  // us-east-1 re-creating one's own bucket answers 200, so only a HEAD tells
  // "created now" from "already ours".
  std::optional<bool> exists;
};

class S3 {
 public:
  explicit S3(const std::shared_ptr<Session>& session);

  // Creates the bucket (LocationConstraint outside us-east-1) unless it
  // exists, then applies every setting: public access block, SSE-S3 default
  // encryption, a TLS-only policy, the lifecycle rule, and the tags last (so
  // a tag can say the rest is done). A bucket that already exists and is
  // ours is fine (returns false); one of that name owned by another account
  // is Failure (bucket_taken).
  bool create_bucket(const std::string& bucket, const BucketSettings& settings);
  // True when the bucket exists and is reachable; false on 404. A 403 is a
  // Failure: bucket_taken when the bucket's owner was expected (see
  // Session::bucket_owners), else denied.
  bool head_bucket(const std::string& bucket);
  // The bucket's tags (GetBucketTagging): empty when it has none, nullopt
  // when there is no such bucket.
  std::optional<std::map<std::string, std::string>> bucket_tags(const std::string& bucket);
  // The account this session expects to own the bucket, if it knows one.
  [[nodiscard]] std::optional<std::string> expected_owner(const std::string& bucket) const;
  // Object metadata, or nullopt on 404.
  std::optional<ObjectInfo> head_object(const std::string& bucket, const std::string& key);

  void put_object(const std::string& bucket, const std::string& key, std::string data,
                  const std::string& content_type = "application/octet-stream");
  std::string get_object(const std::string& bucket, const std::string& key);
  // nullopt on 404.
  std::optional<std::string> get_object_if_exists(const std::string& bucket, const std::string& key);

  // Uploads a file: one PUT below the threshold, else multipart with parallel
  // parts (aborted on failure), as a transfer (see for_transfer). What the caller already knows of the file is
  // not found out again: its SHA-256 becomes the payload hash of a single PUT,
  // and its size saves a stat and an open per file.
  void upload_file(const std::string& bucket, const std::string& key, const std::string& path,
                   const TransferOptions& options = {}, const KnownFile& known = {});
  // Downloads to a file: one GET below the threshold, else parallel ranged
  // GETs, as a transfer (see for_transfer).
  void download_file(const std::string& bucket, const std::string& key, const std::string& path,
                     const TransferOptions& options = {});

  // ListObjectsV2 with pagination; `each` is called per object.
  void list_objects(const std::string& bucket, const std::string& prefix,
                    const std::function<void(const ObjectInfo&)>& each, const std::string& start_after = "");
  // One ListObjectsV2 page (at most max_keys objects after start_after);
  // returns true when more follow. Implemented in s3_page.cpp.
  bool list_page(const std::string& bucket, const std::string& prefix, const std::string& start_after, int max_keys,
                 const std::function<void(const ObjectInfo&)>& each);
  // Folder-like listing: objects directly under prefix and common prefixes.
  void list_delimited(const std::string& bucket, const std::string& prefix, std::vector<ObjectInfo>& objects,
                      std::vector<std::string>& prefixes);
  // DeleteObjects in batches of 1000; returns how many were deleted.
  std::size_t delete_objects(const std::string& bucket, const std::vector<std::string>& keys);
  void delete_bucket(const std::string& bucket);

  // A presigned GET URL for the object.
  std::string presign_get(const std::string& bucket, const std::string& key, std::chrono::seconds expires);

  Client& client() { return client_; }

  // This S3 for one bulk transfer (Client::for_transfer): each call an
  // idempotent request that retries within a time budget and waits for room
  // in `limit`. Files sent or fetched through it share the limit; a plain
  // S3's upload_file and download_file make a limit of their own.
  [[nodiscard]] S3 for_transfer(std::shared_ptr<ConcurrencyLimit> limit) const;

 private:
  explicit S3(Client client) : client_(std::move(client)) {}
  Client client_;
};

}  // namespace hoist::aws
