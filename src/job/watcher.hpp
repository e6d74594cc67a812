#pragma once
// Following a job from anywhere: its status and log chunks in S3, its
// instance in EC2 (the decisions are follow.hpp's); and bringing its outputs
// home.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "aws/client.hpp"
#include "aws/s3.hpp"
#include "job/follow.hpp"
#include "job/record.hpp"

namespace hoist::job {

class Reporter;

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

struct WatchOptions {
  std::chrono::milliseconds poll{1000};  // between two looks at the job
  std::function<bool()> detach_requested;
};

struct WatchResult {
  WatchEnd end = WatchEnd::terminal;
  JobStatus status;
  std::string instance_state;
  std::string instance_state_reason;
};

// Polls until the job reaches a terminal phase, the caller detaches, the
// instance disappears without a terminal status (lost), or the job outlives
// max_runtime by a grace period (overdue). The reporter hears each phase,
// each log chunk, and contact with AWS lost and restored (following waits
// out a lost network: the job goes on in AWS meanwhile). `instance_id`
// empty: the instance is not looked at.
WatchResult watch(const std::shared_ptr<aws::Session>& session, const std::string& bucket, const std::string& job_id,
                  const std::string& instance_id, std::chrono::seconds max_runtime, Reporter& reporter,
                  const WatchOptions& options = {});

struct DownloadStats {
  std::uint64_t files = 0, bytes = 0;
};
// Downloads everything under an s3:// prefix into a local folder, keeping
// relative names; refuses names that would escape the folder (the reporter
// is warned of each).
DownloadStats download_prefix(aws::S3& s3, const std::string& s3_uri, const std::string& local_dir, Reporter& reporter);

}  // namespace hoist::job
