#include "cli/errors.hpp"

#include "aws/error.hpp"
#include "util/error.hpp"
#include "util/log.hpp"

namespace hoist::cli {
namespace {

Exit exit_for(aws::Failure::Kind kind) {
  switch (kind) {
    case aws::Failure::config:
      return Exit::config;
    case aws::Failure::bad_input:
      return Exit::bad_option;
    case aws::Failure::bucket_taken:
      return Exit::bucket_taken;
    case aws::Failure::denied:
      return Exit::access_denied;
    case aws::Failure::no_such_object:
      return Exit::not_found;
    case aws::Failure::unreadable_file:
      return Exit::input_missing;
    case aws::Failure::unwritable_file:
      return Exit::output_unwritable;
    case aws::Failure::unreachable:
      return Exit::network;
    case aws::Failure::bad_answer:
      return Exit::aws;
  }
  return Exit::internal;
}

std::string message_for(const aws::Failure& failure) {
  std::string message = failure.what();
  if (failure.kind() == aws::Failure::bucket_taken)
    message += ": choose another name with --bucket NAME (or HOIST_BUCKET, or bucket = \"NAME\" in hoist.toml)";
  return message;
}

ErrorReport error(Exit code, const std::string& message) {
  return {static_cast<int>(code), "hoist: error: " + log::redact(message)};
}

}  // namespace

ErrorReport report_error(const std::exception& e) {
  if (const auto* fatal = dynamic_cast<const Fatal*>(&e)) return error(fatal->code(), fatal->what());
  if (const auto* failure = dynamic_cast<const aws::Failure*>(&e))
    return error(exit_for(failure->kind()), message_for(*failure));
  if (const auto* aws_error = dynamic_cast<const aws::AwsError*>(&e)) {
    const aws::Advice advice{"hoist", "`hoist check`", "`hoist iam-policy`"};
    const Exit code = aws_error->access_denied()    ? Exit::access_denied
                      : aws_error->http_status == 0 ? Exit::network
                                                    : Exit::aws;
    return error(code, aws::describe(*aws_error, advice));
  }
  return {static_cast<int>(Exit::internal), "hoist: internal error: " + log::redact(e.what())};
}

}  // namespace hoist::cli
