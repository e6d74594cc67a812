#pragma once
// SSM Parameter Store (JSON 1.1), read-only: hoist reads AWS's public
// parameters, e.g. the latest Amazon Linux 2023 AMI id per architecture.
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "aws/client.hpp"

namespace hoist::aws {

class Ssm {
 public:
  explicit Ssm(std::shared_ptr<Session> session);

  // The parameter's value; nullopt when it does not exist (ParameterNotFound).
  std::optional<std::string> get_parameter(const std::string& name);
  // Several parameters in one round trip (at most 10 per request, batched
  // here); names that do not exist are absent from the result.
  std::map<std::string, std::string> get_parameters(const std::vector<std::string>& names);

  Client& client() { return client_; }

 private:
  Client client_;
};

}  // namespace hoist::aws
