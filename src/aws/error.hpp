#pragma once
// A failed AWS request, typed: what a user sees names the operation and the
// code, and what to do about it.
#include <stdexcept>
#include <string>
#include <string_view>

namespace hoist::aws {

class AwsError : public std::runtime_error {
 public:
  AwsError(std::string service, std::string operation, std::string code, std::string message, std::string request_id,
           long http_status);
  std::string service;      // "s3"
  std::string operation;    // "PutObject"
  std::string code;         // "AccessDenied", or "NetworkError" when no response came
  std::string aws_message;  // the service's own message
  std::string request_id;
  long http_status;  // 0 when no response came

  [[nodiscard]] bool is(std::string_view c) const { return code == c; }
  [[nodiscard]] bool access_denied() const;
  [[nodiscard]] bool not_found() const;  // 404 or a *NotFound / NoSuch* code
  [[nodiscard]] bool no_capacity() const;
};

// EC2 has no room for the instance where it was asked
// (InsufficientInstanceCapacity, InsufficientCapacity).
bool is_capacity_code(std::string_view code);

// One line for the user: "s3 PutObject failed: AccessDenied: ... (request id
// X). <what to do>".
std::string describe(const AwsError& error);

}  // namespace hoist::aws
