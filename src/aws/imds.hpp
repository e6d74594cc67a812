#pragma once
// The EC2 instance metadata service, IMDSv2 only: a session token from
// PUT /latest/api/token, then GETs that carry it. Short timeouts so that a
// machine without IMDS (a laptop) fails fast.
#include <chrono>
#include <mutex>
#include <optional>
#include <string>

#include "aws/config.hpp"
#include "aws/http.hpp"

namespace hoist::aws {

class Imds {
 public:
  // Endpoint: AWS_EC2_METADATA_SERVICE_ENDPOINT, the profile's
  // ec2_metadata_service_endpoint, else http://169.254.169.254.
  explicit Imds(const Config& config);

  // AWS_EC2_METADATA_DISABLED=true.
  [[nodiscard]] bool disabled() const { return disabled_; }
  [[nodiscard]] const std::string& endpoint() const { return endpoint_; }

  // The body at `path` ("/latest/meta-data/..."), or nullopt on 404.
  // Throws std::runtime_error (TransportError when IMDS does not answer).
  std::optional<std::string> get(const std::string& path);

 private:
  std::string token();
  HttpResponse send(HttpRequest request);

  std::string endpoint_;
  bool disabled_ = false;
  HttpOptions http_;
  int attempts_ = 2;  // botocore: one attempt of 1 s; one retry for a slow first call
  std::mutex mutex_;
  std::string token_;
  std::chrono::steady_clock::time_point token_expiry_{};
};

}  // namespace hoist::aws
