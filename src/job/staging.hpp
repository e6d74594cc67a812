#pragma once
// Content-addressed upload: each distinct file goes to blobs/sha256/<hex>
// only when the bucket does not already hold it.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "aws/s3.hpp"
#include "job/manifest.hpp"

namespace hoist::job {

struct StageStats {
  std::uint64_t files = 0, bytes = 0;                    // distinct blobs considered
  std::uint64_t uploaded_files = 0, uploaded_bytes = 0;  // sent
  std::uint64_t skipped_files = 0, skipped_bytes = 0;    // already in the bucket
  std::uint64_t check_requests = 0;                      // HEAD/LIST calls to find them
  std::uint64_t sets = 0, sets_known = 0;                // folders, and those whose set marker was there
  std::uint64_t sent_bytes = 0;                          // progress so far
  double seconds = 0;
  // While S3 throttles, requests in flight are cut (see aws::ConcurrencyLimit):
  // how many may be in flight now, and whether that is below the maximum.
  std::size_t request_limit = 0;
  bool throttled = false;
  std::uint64_t throttles = 0;  // throttling answers so far
};

// What the progress line adds while S3 throttles: "; S3 is throttling: 3
// requests in flight, retrying"; empty otherwise.
std::string throttle_note(const StageStats& stats);

// Most requests one staging has in flight (16 files, 4 parts each), before
// throttling cuts them.
inline constexpr std::size_t kStageRequests = 64;

// The distinct blobs of several manifests (one entry per sha256).
std::vector<const FileEntry*> distinct_blobs(const std::vector<const Manifest*>& manifests);

// An s3:// INPUT's objects and bytes, listed `page_size` keys a page for at
// most `max_pages` pages; `complete` when the listing reached its end.
struct PrefixSize {
  std::uint64_t objects = 0;
  std::uint64_t bytes = 0;
  bool complete = false;
};
// A failing page throws, unless pages before it were read: then the listing
// stops there, incomplete (the prefix is readable and not empty).
PrefixSize size_prefix(aws::S3& s3, const std::string& bucket, const std::string& prefix, int max_pages,
                       int page_size = 1000);

// Which of `blobs` the bucket lacks (or holds with another size). Up to
// `head_limit` blobs are checked with parallel HEADs (one round trip of
// latency); more are found by listing blobs/sha256/ from the smallest wanted
// key on, skipping ahead so a request never covers a range with no wanted
// key: never more requests than HEADs, about one per 1000 files when the
// bucket holds mostly this job's blobs. A missing bucket means all missing.
std::set<std::string> missing_blobs(aws::S3& s3, const std::string& bucket, const std::vector<const FileEntry*>& blobs,
                                    std::uint64_t& requests, std::size_t head_limit = 32);

// Uploads the given blobs in parallel (each large one in parallel parts) as
// one transfer: the limit of `s3` when it is a transfer's, else one of
// kStageRequests. `progress` is called from worker threads at most every
// ~100 ms, and at once when throttling cuts the requests in flight.
void upload_blobs(aws::S3& s3, const std::string& bucket, const std::vector<const FileEntry*>& blobs, StageStats& stats,
                  const std::function<void(const StageStats&)>& progress, std::size_t parallelism = 16);

// The set markers of the non-empty manifests, in order, and whether each is
// in the bucket (one parallel HEAD each; a missing bucket means none is).
struct MarkerCheck {
  std::vector<std::string> keys;
  std::vector<char> present;
  // Set by the caller when the bucket did not exist before this run: every
  // blob is missing, and asking the bucket would only cost a round trip.
  bool bucket_new = false;
};
MarkerCheck check_markers(aws::S3& s3, const std::string& bucket, const std::vector<const Manifest*>& manifests);

// What staging would send, found without writing anything: the markers,
// then the blobs of the folders without one. `checked`, when given, is
// check_markers of the same manifests, made earlier.
struct StagePlan {
  MarkerCheck markers;
  std::vector<const FileEntry*> to_send;
  std::uint64_t send_bytes = 0;
  StageStats stats;  // files, bytes, skipped_*, check_requests, sets, sets_known
};
StagePlan plan_stage(aws::S3& s3, const std::string& bucket, const std::vector<const Manifest*>& manifests,
                     const MarkerCheck* checked = nullptr);

// Checks, uploads what is missing, and fills every field of the stats:
// plan_stage, then the upload, then the markers of the folders that had none
// (a manifest whose set marker is in the bucket needs no other check). All
// of it is one transfer (aws::S3::for_transfer): its requests are idempotent
// (HEADs, LISTs, PUTs of content-addressed keys) and share one limit.
StageStats stage(aws::S3& s3, const std::string& bucket, const std::vector<const Manifest*>& manifests,
                 const std::function<void(const StageStats&)>& progress, const MarkerCheck* checked = nullptr);

}  // namespace hoist::job
