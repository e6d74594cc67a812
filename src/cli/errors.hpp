#pragma once
// What a failure means to a hoist user: the exit status (README.md's table)
// and the one line main prints, with the advice that names hoist's own
// commands and options. The layers below say what went wrong in their own
// terms (hoist::Fatal, aws::AwsError, aws::Failure); this is the one place
// that turns those into hoist's answer.
#include <exception>
#include <string>

namespace hoist::cli {

struct ErrorReport {
  int exit_code;
  std::string line;  // "hoist: error: ...", redacted, without the newline
};

// Any exception that reached main. An exception of no known type is an
// internal error (exit 70).
ErrorReport report_error(const std::exception& error);

}  // namespace hoist::cli
