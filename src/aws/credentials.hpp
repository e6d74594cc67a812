#pragma once
// Where AWS credentials come from, in the aws CLI's order (see
// resolve_credentials in credentials.cpp). Never printed: only `source`.
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

namespace hoist::aws {

struct Credentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;
  std::optional<std::chrono::system_clock::time_point> expiration;
  // Which source gave them, in words a user recognises, e.g. "environment",
  // "shared-credentials-file (profile dev)", "assume-role (profile prod)",
  // "sso (profile dev)", "web-identity", "container", "instance-metadata",
  // "credential-process (profile p)", "config-file (profile p)".
  std::string source;
};

// A source of credentials that may expire; `get` refreshes them when they are
// within kRefreshMargin of expiry. Thread-safe.
class CredentialProvider {
 public:
  virtual ~CredentialProvider() = default;
  Credentials get();
  // Forces a refresh on the next get() (after an ExpiredToken error).
  void invalidate();

 protected:
  virtual Credentials fetch() = 0;

 private:
  std::mutex mutex_;
  std::optional<Credentials> cached_;
};

class Config;

// A source that never changes (environment or shared-file keys).
class StaticCredentialProvider : public CredentialProvider {
 public:
  explicit StaticCredentialProvider(Credentials credentials) : credentials_(std::move(credentials)) {}

 protected:
  Credentials fetch() override { return credentials_; }

 private:
  Credentials credentials_;
};

// How long before expiry cached credentials are refreshed (botocore's
// advisory refresh window).
inline constexpr std::chrono::minutes kRefreshMargin{5};

// Builds the provider the aws CLI (botocore) would use, in its order:
// environment keys (skipped when --profile was given; AWS_PROFILE alone does
// not skip them), the profile's assume-role, web identity, SSO, credentials
// file, credential_process, config-file keys, then the container endpoint and
// IMDSv2. Throws Failure (config) naming what is missing.
std::shared_ptr<CredentialProvider> resolve_credentials(const Config& config);

}  // namespace hoist::aws
