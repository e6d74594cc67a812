#pragma once
// Following a job from anywhere: its status.json, its log chunks, its
// instance; and bringing its outputs home.
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "aws/client.hpp"
#include "aws/ec2.hpp"
#include "aws/s3.hpp"
#include "job/spec.hpp"

namespace hoist::job {

// Reads jobs/<id>/logs/job/ chunk by chunk, remembering where it stopped.
class LogFollower {
 public:
  LogFollower(aws::S3& s3, std::string bucket, const std::string& job_id);
  // Passes each new chunk's bytes, in order; returns how many chunks.
  std::size_t poll(const std::function<void(const std::string&)>& each);

 private:
  aws::S3& s3_;
  std::string bucket_;
  std::string prefix_;
  std::string last_key_;
};

std::optional<JobStatus> read_status(aws::S3& s3, const std::string& bucket, const std::string& job_id);
std::optional<StoredJob> read_job(aws::S3& s3, const std::string& bucket, const std::string& job_id);

// Job ids in the bucket, newest first (ids sort by time within a project);
// empty when there is no bucket.
std::vector<std::string> list_job_ids(aws::S3& s3, const std::string& bucket);

struct WatchEvents {
  // Each phase once, in order, even ones that passed between two polls.
  std::function<void(const std::string& phase, const JobStatus&)> on_phase;
  std::function<void(const std::string&)> on_log;
  std::function<bool()> detach_requested;
  std::chrono::milliseconds poll{1000};  // between two looks at the job
};

enum class WatchEnd { terminal, detached, lost, overdue };

struct WatchResult {
  WatchEnd end = WatchEnd::terminal;
  JobStatus status;
  std::string instance_state;
  std::string instance_state_reason;
};

// Polls until the job reaches a terminal phase, the caller detaches, the
// instance disappears without a terminal status (lost), or the job outlives
// max_runtime by a grace period (overdue).
WatchResult watch(const std::shared_ptr<aws::Session>& session, const std::string& bucket, const std::string& job_id,
                  const std::string& instance_id, std::chrono::seconds max_runtime, const WatchEvents& events);

struct DownloadStats {
  std::uint64_t files = 0, bytes = 0;
};
// Downloads everything under an s3:// prefix into a local folder, keeping
// relative names; refuses names that would escape the folder.
DownloadStats download_prefix(aws::S3& s3, const std::string& s3_uri, const std::string& local_dir);

// Ends what a job used: terminates its instance (idempotent) and removes its
// role and instance profile. Safe to call more than once.
void release_job_resources(const std::shared_ptr<aws::Session>& session, const std::string& job_id,
                           const std::string& instance_id);

// The instance of a job found by its hoist:job tag (any state), if any.
std::optional<std::string> find_job_instance(const std::shared_ptr<aws::Session>& session, const std::string& job_id,
                                             std::string* state = nullptr, std::string* launch_time = nullptr);

// Every job's instance in one DescribeInstances (tag hoist:managed=true, any
// state), by job id; where a job has several, the one still alive.
std::map<std::string, aws::Instance> job_instances(const std::shared_ptr<aws::Session>& session);

}  // namespace hoist::job
