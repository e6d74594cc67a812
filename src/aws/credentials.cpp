// The credential chain: botocore's create_credential_resolver, in its order.
#include "aws/credentials.hpp"

#include <cstdio>
#include <ctime>
#include <stdexcept>

#include "aws/config.hpp"
#include "aws/credentials_sources.hpp"
#include "aws/error.hpp"
#include "util/log.hpp"

namespace hoist::aws {

Credentials CredentialProvider::get() {
  std::lock_guard lock(mutex_);
  auto now = std::chrono::system_clock::now();
  if (cached_ && (!cached_->expiration || now < *cached_->expiration - kRefreshMargin)) return *cached_;
  try {
    cached_ = fetch();
  } catch (...) {
    // Credentials still valid for a little while beat a failed refresh.
    if (cached_ && cached_->expiration && now < *cached_->expiration) return *cached_;
    throw;
  }
  return *cached_;
}

void CredentialProvider::invalidate() {
  std::lock_guard lock(mutex_);
  cached_.reset();
}

namespace sources {

std::shared_ptr<CredentialProvider> profile_chain(const Config& config, const std::string& profile, bool use_env) {
  if (auto p = web_identity(config, profile, use_env)) return p;
  if (auto p = sso(config, profile)) return p;
  if (auto p = shared_credentials_file(config, profile)) return p;
  if (auto p = process(config, profile)) return p;
  if (auto p = config_file(config, profile)) return p;
  return nullptr;
}

std::chrono::system_clock::time_point parse_time(const std::string& text) {
  std::tm tm{};
  int consumed = 0;
  if (std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
                  &tm.tm_min, &tm.tm_sec, &consumed) < 6) {
    throw std::invalid_argument("not an ISO 8601 time: " + text);
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  std::time_t t = timegm(&tm);
  // Fractions are dropped; an explicit offset other than zero is applied.
  std::string rest = text.substr(static_cast<std::size_t>(consumed));
  auto sign = rest.find_first_of("+-");
  if (sign != std::string::npos) {
    int h = 0;
    int m = 0;
    if (std::sscanf(rest.c_str() + sign + 1, "%2d:%2d", &h, &m) >= 1) {
      long offset = (h * 60L + m) * 60L;
      t -= rest[sign] == '+' ? offset : -offset;
    }
  }
  return std::chrono::system_clock::from_time_t(t);
}

std::string form_encode(std::string_view s) {
  static const char* digits = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += digits[c >> 4];
      out += digits[c & 15];
    }
  }
  return out;
}

HttpOptions metadata_http(std::chrono::milliseconds timeout) {
  HttpOptions o;
  o.connect_timeout = timeout;
  o.low_speed_bytes = 1;
  o.low_speed_time = std::chrono::duration_cast<std::chrono::seconds>(timeout);
  if (o.low_speed_time.count() < 1) o.low_speed_time = std::chrono::seconds(1);
  return o;
}

}  // namespace sources

std::shared_ptr<CredentialProvider> resolve_credentials(const Config& config) {
  const std::string& profile = config.profile_name();
  // botocore drops the environment provider only when --profile was given.
  if (!config.profile_from_command_line()) {
    if (auto p = sources::environment(config)) return p;
  }
  if (auto p = sources::assume_role(config, profile)) return p;
  if (auto p = sources::profile_chain(config, profile, !config.profile_from_command_line())) return p;
  if (auto p = sources::container(config)) return p;
  if (auto p = sources::instance_metadata(config)) {
    // The last resort: only usable if IMDS answers, so ask now (1 s timeout)
    // and report "nothing found" rather than an IMDS network error.
    try {
      p->get();
      return p;
    } catch (const std::exception& e) {
      log::debug(std::string("instance metadata credentials unavailable: ") + e.what());
    }
  }
  throw Failure(Failure::config,
                "no AWS credentials found: set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or run `aws "
                "configure`");
}

}  // namespace hoist::aws
