#include "aws/imds.hpp"

#include <stdexcept>

#include "aws/credentials_sources.hpp"
#include "util/text.hpp"

namespace hoist::aws {
namespace {
constexpr int kTokenTtlSeconds = 21600;
}

Imds::Imds(const Config& config) : http_(sources::metadata_http(std::chrono::seconds(1))) {
  auto e = config.env("AWS_EC2_METADATA_SERVICE_ENDPOINT");
  if (!e) e = config.get(config.profile_name(), "ec2_metadata_service_endpoint");
  endpoint_ = e.value_or("http://169.254.169.254");
  while (!endpoint_.empty() && endpoint_.back() == '/') endpoint_.pop_back();
  disabled_ = ascii_lower(config.env("AWS_EC2_METADATA_DISABLED").value_or("")) == "true";
}

HttpResponse Imds::send(HttpRequest request) {
  request.endpoint = endpoint_;
  for (int attempt = 1;; ++attempt) {
    try {
      HttpResponse r = http_send(request, http_);
      if (r.status < 500 || attempt >= attempts_) return r;
    } catch (const TransportError&) {
      if (attempt >= attempts_) throw;
    }
  }
}

std::string Imds::token() {
  std::lock_guard lock(mutex_);
  // Renewed a minute early so a GET never carries a token about to lapse.
  if (!token_.empty() && std::chrono::steady_clock::now() < token_expiry_) return token_;
  HttpRequest put;
  put.method = "PUT";
  put.path = "/latest/api/token";
  put.headers.emplace_back("X-aws-ec2-metadata-token-ttl-seconds", std::to_string(kTokenTtlSeconds));
  HttpResponse r = send(std::move(put));
  if (r.status != 200 || r.body.empty()) {
    throw std::runtime_error("IMDS refused a session token (HTTP " + std::to_string(r.status) + ")");
  }
  token_ = r.body;
  token_expiry_ = std::chrono::steady_clock::now() + std::chrono::seconds(kTokenTtlSeconds - 60);
  return token_;
}

std::optional<std::string> Imds::get(const std::string& path) {
  if (disabled_) throw std::runtime_error("IMDS is disabled (AWS_EC2_METADATA_DISABLED)");
  for (int attempt = 0; attempt < 2; ++attempt) {
    HttpRequest req;
    req.path = path;
    req.headers.emplace_back("X-aws-ec2-metadata-token", token());
    HttpResponse r = send(std::move(req));
    if (r.status == 200) return r.body;
    if (r.status == 404) return std::nullopt;
    if (r.status == 401 && attempt == 0) {
      // The token expired or IMDS restarted: get a new one, once.
      std::lock_guard lock(mutex_);
      token_.clear();
      continue;
    }
    throw std::runtime_error("IMDS GET " + path + " failed with HTTP " + std::to_string(r.status));
  }
  throw std::runtime_error("IMDS GET " + path + " kept refusing the session token");
}

}  // namespace hoist::aws
