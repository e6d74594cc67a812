// `hoist gc --blobs` (job::gc_blobs): the blobs no job references go, set
// markers first. The rule against a concurrent `hoist run`, step by step:
//  1. Every set marker under blobs/sets/ is deleted before anything else. A
//     marker says "every blob of this folder is here" and a run that finds
//     one checks no blob of it (docs/job-spec.md): once blobs may go, no
//     marker may vouch for them. From here on, a run HEADs or lists each
//     blob, and sends again any that is gone.
//  2. The references: every job.json under jobs/ (code, inputs, checkpoint
//     seed, agent) and the agent bundle of this hoist. A job still running,
//     or relaunched after a spot notice, has its job.json: its blobs stay.
//  3. A blob written in the last `grace` (24 h) stays, referenced or not: a run
//     staging now sends its blobs before it writes the job.json naming them.
//  4. Just before deleting, jobs/ is listed again and the references of any
//     job recorded since step 2 are added.
// What is left: a run that found an old, unreferenced blob present before
// step 4's deletion and records its job after it. Its instance finds that
// blob missing, and the job fails at staging naming it; run it again (its
// HEAD then misses and it sends the blob). hoist never deletes a blob a
// recorded job names.
#include <set>

#include "aws/error.hpp"
#include "aws/http.hpp"
#include "aws/s3.hpp"
#include "job/launcher.hpp"
#include "job/manifest.hpp"
#include "job/naming.hpp"
#include "job/project.hpp"
#include "job/record.hpp"
#include "job/reporter.hpp"
#include "job/spec.hpp"
#include "job/teardown.hpp"
#include "util/text.hpp"

namespace hoist::job {
namespace {

constexpr std::string_view kBlobs = "blobs/sha256/";
constexpr std::string_view kSets = "blobs/sets/";

// The job prefixes under jobs/ ("jobs/<id>/").
std::set<std::string> job_prefixes(aws::S3& s3, const std::string& bucket) {
  std::vector<aws::ObjectInfo> objects;
  std::vector<std::string> prefixes;
  s3.list_delimited(bucket, std::string(keys::kJobs), objects, prefixes);
  return {prefixes.begin(), prefixes.end()};
}

// The blobs the job.json of each prefix names. A job.json that is not JSON
// is a job whose needs are unknown: false (nothing may go).
bool add_references(aws::S3& s3, const std::string& bucket, const std::vector<std::string>& prefixes,
                    std::set<std::string>& out, std::string& unreadable) {
  std::vector<std::optional<std::string>> texts(prefixes.size());
  aws::parallel_for(prefixes.size(), 8,
                    [&](std::size_t i) { texts[i] = s3.get_object_if_exists(bucket, prefixes[i] + "job.json"); });
  for (std::size_t i = 0; i < prefixes.size(); ++i) {
    if (!texts[i]) continue;  // recorded only in part (or expired by jobs_retention): names nothing
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(*texts[i]);
    } catch (const std::exception&) {
      unreadable = prefixes[i] + "job.json";
      return false;
    }
    if (!j.is_object()) {
      unreadable = prefixes[i] + "job.json";
      return false;
    }
    add_blobs_named(j, out);
  }
  return true;
}

}  // namespace

int gc_blobs(const Connected& c, bool dry_run, std::chrono::seconds grace, Reporter& reporter) {
  aws::S3 s3(c.session);
  if (!s3.head_bucket(c.bucket)) return 0;
  // 1. The markers, before any blob.
  std::vector<std::string> markers;
  s3.list_objects(c.bucket, std::string(kSets), [&](const aws::ObjectInfo& o) { markers.push_back(o.key); });
  if (!markers.empty()) {
    reporter.note(std::string(dry_run ? "would delete " : "deleting ") + std::to_string(markers.size()) +
                  " set marker(s) under " + std::string(kSets) + " first");
    if (!dry_run) s3.delete_objects(c.bucket, markers);
  }
  // 2. What the recorded jobs name.
  const std::string now = iso8601(std::chrono::system_clock::now());
  std::set<std::string> referenced{agent_bundle().sha256};
  std::string unreadable;
  const auto seen = job_prefixes(s3, c.bucket);
  if (!add_references(s3, c.bucket, {seen.begin(), seen.end()}, referenced, unreadable)) {
    reporter.warn("kept every blob: " + unreadable +
                  " is not valid JSON, so the blobs it needs are unknown (fix or "
                  "delete that job, then run `hoist gc --blobs` again)");
    return static_cast<int>(markers.size());
  }
  // 3. The unreferenced blobs older than the grace.
  std::vector<aws::ObjectInfo> unreferenced;
  std::size_t young = 0;
  std::size_t kept = 0;
  s3.list_objects(c.bucket, std::string(kBlobs), [&](const aws::ObjectInfo& o) {
    const std::string sha = o.key.substr(kBlobs.size());
    if (referenced.contains(sha)) {
      ++kept;
      return;
    }
    const auto age = seconds_between(o.last_modified, now);
    if (!age || *age < grace) {
      ++young;
      return;
    }
    unreferenced.push_back(o);
  });
  // 4. The jobs recorded meanwhile.
  std::vector<std::string> added;
  for (const auto& p : job_prefixes(s3, c.bucket))
    if (!seen.contains(p)) added.push_back(p);
  if (!added.empty() && !add_references(s3, c.bucket, added, referenced, unreadable)) {
    reporter.warn("kept every blob: " + unreadable + " is not valid JSON, so the blobs it needs are unknown");
    return static_cast<int>(markers.size());
  }
  std::vector<std::string> gone;
  std::uint64_t bytes = 0;
  for (const auto& o : unreferenced) {
    if (referenced.contains(o.key.substr(kBlobs.size()))) continue;
    gone.push_back(o.key);
    bytes += o.size;
  }
  reporter.note(std::string(dry_run ? "would delete " : "deleting ") + std::to_string(gone.size()) +
                " blob(s) no job references (" + human_bytes(static_cast<double>(bytes)) + "); kept " +
                std::to_string(kept) + " that jobs reference and " + std::to_string(young) + " written in the last " +
                format_duration(grace));
  if (!dry_run && !gone.empty()) s3.delete_objects(c.bucket, gone);
  return static_cast<int>(gone.size() + markers.size());
}

}  // namespace hoist::job
