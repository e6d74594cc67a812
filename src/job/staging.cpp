#include "job/staging.hpp"

#include <algorithm>
#include <map>
#include <mutex>
#include <unordered_map>

#include "aws/error.hpp"
#include "aws/http.hpp"

namespace hoist::job {

std::vector<const FileEntry*> distinct_blobs(const std::vector<const Manifest*>& manifests) {
  std::unordered_map<std::string, const FileEntry*> seen;
  std::vector<const FileEntry*> out;
  for (const Manifest* m : manifests)
    for (const auto& [name, e] : *m)
      if (seen.emplace(e.sha256, &e).second) out.push_back(&e);
  return out;
}

namespace {
// HEAD of one key; nullopt when it, or the whole bucket, is not there.
std::optional<aws::ObjectInfo> head_if_there(aws::S3& s3, const std::string& bucket, const std::string& key) {
  try {
    return s3.head_object(bucket, key);
  } catch (const aws::AwsError& e) {
    if (!e.is("NoSuchBucket") && !e.not_found()) throw;
    return std::nullopt;
  }
}
}  // namespace

PrefixSize size_prefix(aws::S3& s3, const std::string& bucket, const std::string& prefix, int max_pages,
                       int page_size) {
  PrefixSize size;
  std::string last;
  bool truncated = true;
  for (int page = 0; truncated && page < max_pages; ++page) {
    try {
      truncated = s3.list_page(bucket, prefix, last, page_size, [&](const aws::ObjectInfo& info) {
        ++size.objects;
        size.bytes += info.size;
        last = info.key;
      });
    } catch (const aws::AwsError&) {
      if (page == 0) throw;
      return size;
    }
  }
  size.complete = !truncated;
  return size;
}

std::set<std::string> missing_blobs(aws::S3& s3, const std::string& bucket, const std::vector<const FileEntry*>& blobs,
                                    std::uint64_t& requests, std::size_t head_limit) {
  std::set<std::string> missing;
  if (blobs.empty()) return missing;
  if (blobs.size() <= head_limit) {
    std::vector<char> absent(blobs.size(), 0);
    aws::parallel_for(blobs.size(), std::min<std::size_t>(blobs.size(), 16), [&](std::size_t i) {
      auto info = head_if_there(s3, bucket, blob_key(blobs[i]->sha256));
      absent[i] = static_cast<char>(!info || info->size != blobs[i]->size);
    });
    requests += blobs.size();
    for (std::size_t i = 0; i < blobs.size(); ++i)
      if (absent[i]) missing.insert(blobs[i]->sha256);
    return missing;
  }

  std::map<std::string, std::uint64_t> wanted;  // key -> size, sorted
  for (const FileEntry* b : blobs) wanted.emplace(blob_key(b->sha256), b->size);
  std::map<std::string, std::uint64_t> found;
  auto next = wanted.begin();
  const std::string prefix = "blobs/sha256/";
  while (next != wanted.end()) {
    // StartAfter is exclusive: start just before the next wanted key.
    std::string start = next->first.substr(0, next->first.size() - 1);
    std::string last;
    bool truncated = false;
    try {
      truncated = s3.list_page(bucket, prefix, start, 1000, [&](const aws::ObjectInfo& o) {
        found.emplace(o.key, o.size);
        last = o.key;
      });
    } catch (const aws::AwsError& e) {
      if (!e.is("NoSuchBucket")) throw;
      truncated = false;
    }
    ++requests;
    if (!truncated) break;
    next = wanted.upper_bound(last);
  }
  for (const FileEntry* b : blobs) {
    auto f = found.find(blob_key(b->sha256));
    if (f == found.end() || f->second != b->size) missing.insert(b->sha256);
  }
  return missing;
}

std::string throttle_note(const StageStats& s) {
  if (!s.throttled) return "";
  return "; S3 is throttling: " + std::to_string(s.request_limit) + (s.request_limit == 1 ? " request" : " requests") +
         " in flight, retrying";
}

void upload_blobs(aws::S3& s3, const std::string& bucket, const std::vector<const FileEntry*>& blobs, StageStats& stats,
                  const std::function<void(const StageStats&)>& progress, std::size_t parallelism) {
  aws::TransferOptions opts;
  opts.parallelism = 4;
  aws::S3 transfer = s3.client().transfer_limit()
                         ? s3
                         : s3.for_transfer(std::make_shared<aws::ConcurrencyLimit>(parallelism * opts.parallelism));
  aws::ConcurrencyLimit& limit = *transfer.client().transfer_limit();

  std::mutex mutex;
  const auto start = std::chrono::steady_clock::now();
  auto last_report = start;
  auto report = [&](std::uint64_t bytes, bool now_please) {
    std::lock_guard lock(mutex);
    stats.sent_bytes += bytes;
    const auto now = std::chrono::steady_clock::now();
    if (progress && (now_please || now - last_report > std::chrono::milliseconds(100))) {
      last_report = now;
      const auto state = limit.state();
      stats.request_limit = state.limit;
      stats.throttled = state.slowed();
      stats.throttles = state.throttles;
      stats.seconds = std::chrono::duration<double>(now - start).count();
      progress(stats);
    }
  };
  opts.progress.on_bytes = [&](std::uint64_t bytes) { report(bytes, false); };
  // Said at once: while S3 throttles, bytes may not move for seconds.
  limit.on_slow_down = [&] { report(0, true); };
  struct Unhook {
    aws::ConcurrencyLimit& limit;
    ~Unhook() { limit.on_slow_down = nullptr; }  // `report` dies with this frame
  } unhook{limit};
  aws::parallel_for(blobs.size(), std::min(parallelism, std::max<std::size_t>(blobs.size(), 1)), [&](std::size_t i) {
    const FileEntry* b = blobs[i];
    transfer.upload_file(bucket, blob_key(b->sha256), b->path, opts, {b->sha256, b->size});
    std::lock_guard lock(mutex);
    stats.uploaded_files++;
    stats.uploaded_bytes += b->size;
  });
  const auto state = limit.state();
  stats.throttles = state.throttles;
  stats.throttled = false;
  stats.request_limit = state.limit;
}

MarkerCheck check_markers(aws::S3& s3, const std::string& bucket, const std::vector<const Manifest*>& manifests) {
  MarkerCheck check;
  for (const Manifest* m : manifests)
    if (auto key = set_key(*m); !key.empty()) check.keys.push_back(std::move(key));
  check.present.assign(check.keys.size(), 0);
  aws::parallel_for(check.keys.size(), std::max<std::size_t>(check.keys.size(), 1), [&](std::size_t i) {
    check.present[i] = static_cast<char>(head_if_there(s3, bucket, check.keys[i]).has_value());
  });
  return check;
}

StagePlan plan_stage(aws::S3& s3, const std::string& bucket, const std::vector<const Manifest*>& manifests,
                     const MarkerCheck* checked) {
  StagePlan plan;
  StageStats& stats = plan.stats;
  auto blobs = distinct_blobs(manifests);
  for (const FileEntry* b : blobs) {
    stats.files++;
    stats.bytes += b->size;
  }

  // 1. One HEAD per folder (unless the caller made them already, alongside
  // its other probes): is the folder's whole set known to be there?
  plan.markers = checked ? *checked : check_markers(s3, bucket, manifests);
  stats.check_requests += plan.markers.keys.size();
  stats.sets = plan.markers.keys.size();
  std::set<std::string> present;  // sha256 of blobs a marker vouches for
  std::vector<const Manifest*> unmarked;
  for (std::size_t i = 0, k = 0; i < manifests.size(); ++i) {
    if (manifests[i]->empty()) continue;
    if (plan.markers.present[k++]) {
      stats.sets_known++;
      for (const auto& [name, e] : *manifests[i]) present.insert(e.sha256);
    } else {
      unmarked.push_back(manifests[i]);
    }
  }

  // 2. The blobs of the other folders, one by one or by listing.
  std::vector<const FileEntry*> to_check;
  for (const FileEntry* b : distinct_blobs(unmarked))
    if (!present.contains(b->sha256)) to_check.push_back(b);
  std::set<std::string> missing;
  if (plan.markers.bucket_new) {
    for (const FileEntry* b : to_check) missing.insert(b->sha256);
  } else {
    missing = missing_blobs(s3, bucket, to_check, stats.check_requests);
  }
  for (const FileEntry* b : blobs) {
    if (missing.contains(b->sha256)) {
      plan.to_send.push_back(b);
      plan.send_bytes += b->size;
    } else {
      stats.skipped_files++;
      stats.skipped_bytes += b->size;
    }
  }
  return plan;
}

StageStats stage(aws::S3& s3, const std::string& bucket, const std::vector<const Manifest*>& manifests,
                 const std::function<void(const StageStats&)>& progress, const MarkerCheck* checked) {
  auto t0 = std::chrono::steady_clock::now();
  aws::S3 transfer = s3.for_transfer(std::make_shared<aws::ConcurrencyLimit>(kStageRequests));
  StagePlan plan = plan_stage(transfer, bucket, manifests, checked);
  StageStats& stats = plan.stats;
  std::vector<const FileEntry*>& to_send = plan.to_send;
  // Largest first, so one big file does not finish alone at the end.
  std::sort(to_send.begin(), to_send.end(), [](auto* a, auto* b) { return a->size > b->size; });
  upload_blobs(transfer, bucket, to_send, stats, progress);

  // 3. Every blob is there now: vouch for the folders that had no marker.
  std::vector<std::string> new_markers;
  for (std::size_t i = 0; i < plan.markers.keys.size(); ++i)
    if (!plan.markers.present[i]) new_markers.push_back(plan.markers.keys[i]);
  aws::parallel_for(new_markers.size(), std::max<std::size_t>(new_markers.size(), 1), [&](std::size_t i) {
    transfer.put_object(bucket, new_markers[i], "", "application/octet-stream");
  });
  stats.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (progress) progress(stats);
  return stats;
}

}  // namespace hoist::job
