#pragma once
// STS (query protocol, 2011-06-15): who am I, and temporary credentials for
// a role.
#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "aws/client.hpp"

namespace hoist::aws {

struct CallerIdentity {
  std::string account;
  std::string arn;
  std::string user_id;
};

struct AssumeRoleRequest {
  std::string role_arn;
  std::string session_name;
  std::string external_id;                       // optional
  std::optional<std::chrono::seconds> duration;  // optional (DurationSeconds)
};

// The Service description of STS.
Service sts_service();

class Sts {
 public:
  explicit Sts(std::shared_ptr<Session> session);

  CallerIdentity get_caller_identity();
  // Signed with the session's credentials.
  Credentials assume_role(const AssumeRoleRequest& request);

  Client& client() { return client_; }

 private:
  Client client_;
};

// AssumeRoleWithWebIdentity is not signed (the token is the proof), so it is
// sent directly rather than through a signing Client. Throws AwsError.
Credentials assume_role_with_web_identity(const std::string& endpoint, const std::string& role_arn,
                                          const std::string& session_name, const std::string& token,
                                          const HttpOptions& http);

// The RoleSessionName botocore uses when none is configured.
std::string default_session_name();

}  // namespace hoist::aws
