#pragma once
// What a job leaves for its user, read from any machine: its outputs and
// its logs (`hoist results`, `hoist logs`).
#include <string>

#include "job/connect.hpp"
#include "job/watcher.hpp"

namespace hoist::job {

class Reporter;

// Downloads the job's outputs into `dir` (default: ./<job id>) and says
// where they are, with the S3 console link. Fatal(Exit::not_found) for a job
// the bucket does not hold.
DownloadStats results(const Connected& c, const std::string& job_id, const std::string& dir, Reporter& reporter);

struct LogsOptions {
  bool follow = false;     // until the job ends (waiting out a lost network)
  bool bootstrap = false;  // the instance's own log instead of the script's
};
// The job's log, to the reporter's log().
void logs(const Connected& c, const std::string& job_id, const LogsOptions& options, Reporter& reporter);

}  // namespace hoist::job
