#pragma once
// The AWS layer's two kinds of failure, typed, saying what happened in AWS's
// terms: AwsError, a request AWS answered with an error (or that got no
// answer), and Failure, anything else the layer refuses or cannot do. What a
// failure means to the program using the layer (an exit status, which of its
// commands helps) is decided above it (cli/errors.hpp for hoist).
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

// What the program using this layer can offer that the layer cannot know:
// whose permissions these are, and the commands that show the credentials in
// use and print the policy needed. Empty fields leave the advice out.
struct Advice {
  std::string program;           // whose: "a permission <program> needs"
  std::string show_credentials;  // a command showing the credentials in use and their source
  std::string print_policy;      // a command printing the policy <program> needs
};

// One line for the user: "s3 PutObject failed: AccessDenied: ... (request id
// X). <what to do>".
std::string describe(const AwsError& error, const Advice& advice = {});

// A failure that is not an AWS error response: the message says what and
// where in the layer's terms, the kind what sort of thing went wrong.
class Failure : public std::runtime_error {
 public:
  enum class Kind {
    config,           // the configuration or credentials: a bad config file or profile, no region,
                      // no credentials, a credential source that is set up wrongly or failed
    bad_input,        // a malformed argument: an s3:// URI, a presigned URL's expiry or key
    bucket_taken,     // a bucket of that name belongs to another AWS account (names are global)
    denied,           // AWS refused without an error to show (a bucket's HEAD answering 403)
    no_such_object,   // the S3 object to download does not exist
    unreadable_file,  // a local file to upload cannot be read
    unwritable_file,  // a local file to download into cannot be written
    unreachable,      // an endpoint that is not a service's (the SSO portal) did not answer
    bad_answer,       // an answer that is not what was asked for (SSO, a short download)
  };
  using enum Kind;
  Failure(Kind kind, const std::string& message) : std::runtime_error(message), kind_(kind) {}
  [[nodiscard]] Kind kind() const { return kind_; }

 private:
  Kind kind_;
};

}  // namespace hoist::aws
