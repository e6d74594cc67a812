#pragma once
// hoist's two kinds of failure: Fatal, a problem the user must fix, printed
// once by main as "hoist: error: <message>" with its exit code; and the typed
// aws::AwsError (aws/error.hpp) for a failed AWS request.
#include <stdexcept>
#include <string>

namespace hoist {

// Distinct exit codes for hoist's own failures (documented in README.md).
// A job's script exit status is passed through unchanged instead.
enum class Exit : int {
  ok = 0,
  usage = 2,             // bad command line (CLI11)
  config = 3,            // no credentials, no region, bad profile or config file
  aws = 4,               // an AWS request failed
  access_denied = 5,     // AWS refused for lack of permission
  network = 6,           // endpoint unreachable after retries
  project_missing = 10,  // PROJECT_DIR does not exist or is not a folder
  requirements_missing = 11,
  script_missing = 12,
  input_missing = 13,  // INPUT does not exist / s3 input not readable
  output_unwritable = 14,
  bad_option = 15,    // an option value is invalid (duration, instance type, ...)
  not_found = 16,     // a named job or object does not exist
  bucket_taken = 17,  // the hoist bucket's name belongs to another AWS account
  not_set_up = 18,    // the account lacks what an administrator makes once (`hoist setup`)
  launch_failed = 20,
  job_lost = 21,   // instance gone without a terminal status
  timed_out = 22,  // --max-runtime reached
  cancelled = 23,
  preempted = 24,
  quota = 25,  // an EC2 quota (Service Quotas) has no room for the instance
  internal = 70,
};

class Fatal : public std::runtime_error {
 public:
  Fatal(Exit code, const std::string& message) : std::runtime_error(message), code_(code) {}
  [[nodiscard]] Exit code() const { return code_; }

 private:
  Exit code_;
};

}  // namespace hoist
