#pragma once
// The credential sources behind resolve_credentials, one file each
// (credentials_*.cpp). Each returns nullptr when its configuration is absent,
// so the chain can move on, and throws Failure (config) when it is present but
// wrong.
#include <chrono>
#include <memory>
#include <set>
#include <string>

#include "aws/config.hpp"
#include "aws/credentials.hpp"
#include "aws/http.hpp"

namespace hoist::aws::sources {

// AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN.
std::shared_ptr<CredentialProvider> environment(const Config& config);
// aws_access_key_id & co. in the credentials file's [profile] section.
std::shared_ptr<CredentialProvider> shared_credentials_file(const Config& config, const std::string& profile);
// The same keys in the config file's [profile x] section.
std::shared_ptr<CredentialProvider> config_file(const Config& config, const std::string& profile);
// credential_process = <command>.
std::shared_ptr<CredentialProvider> process(const Config& config, const std::string& profile);
// role_arn with source_profile or credential_source (botocore's
// AssumeRoleProvider); `visited` guards against source_profile loops.
std::shared_ptr<CredentialProvider> assume_role(const Config& config, const std::string& profile,
                                                std::set<std::string> visited = {});
// AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN (unless use_env is false), or the
// profile's web_identity_token_file + role_arn.
std::shared_ptr<CredentialProvider> web_identity(const Config& config, const std::string& profile, bool use_env);
// sso_session / sso_start_url profiles, from the token `aws sso login` cached.
std::shared_ptr<CredentialProvider> sso(const Config& config, const std::string& profile);
// AWS_CONTAINER_CREDENTIALS_RELATIVE_URI / _FULL_URI.
std::shared_ptr<CredentialProvider> container(const Config& config);
// IMDSv2 (nullptr when AWS_EC2_METADATA_DISABLED=true); fetched lazily.
std::shared_ptr<CredentialProvider> instance_metadata(const Config& config);

// botocore's per-profile providers, in its order: web identity, SSO, shared
// credentials file, credential_process, config file.
std::shared_ptr<CredentialProvider> profile_chain(const Config& config, const std::string& profile, bool use_env);

// "2024-01-02T03:04:05Z", with optional fractions and +00:00 / UTC suffix.
// Throws std::invalid_argument.
std::chrono::system_clock::time_point parse_time(const std::string& text);
// application/x-www-form-urlencoded / query value encoding.
std::string form_encode(std::string_view s);
// Quick HTTP options for local metadata services: short timeouts.
HttpOptions metadata_http(std::chrono::milliseconds timeout);

}  // namespace hoist::aws::sources
