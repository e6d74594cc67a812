#pragma once
// What a job leaves for its user, read from any machine: its outputs and
// its logs (`hoist results`, `hoist logs`).
#include <optional>
#include <string>

#include "job/connect.hpp"
#include "job/reporter.hpp"
#include "job/watcher.hpp"

namespace hoist::job {

// Downloads the job's outputs into `dir` (default: ./<job id>) and says
// where they are, with the S3 console link. Fatal(Exit::not_found) for a job
// the bucket does not hold.
DownloadStats results(const Connected& c, const std::string& job_id, const std::string& dir, Reporter& reporter);

// The job's last saved checkpoint (--checkpoint), into `dir`: each file of
// its manifest (jobs/<id>/checkpoint.json), checked against its sha256;
// files of `dir` it no longer has are left alone. nullopt when the job saved
// none.
std::optional<DownloadStats> download_checkpoint(aws::S3& s3, const std::string& bucket, const std::string& job_id,
                                                 const std::string& dir, Reporter& reporter);

// download_checkpoint for `hoist results --checkpoint DIR`, saying what it
// brought; Fatal(Exit::not_found) when the job saved no checkpoint.
void checkpoint_results(const Connected& c, const std::string& job_id, const std::string& dir, Reporter& reporter);

// What is said of a checkpoint brought into `dir`.
Event checkpoint_brought(const DownloadStats& d, const std::string& dir);

struct LogsOptions {
  bool follow = false;     // until the job ends (waiting out a lost network)
  bool bootstrap = false;  // the instance's own log instead of the script's
};
// The job's log, to the reporter's log().
void logs(const Connected& c, const std::string& job_id, const LogsOptions& options, Reporter& reporter);

}  // namespace hoist::job
