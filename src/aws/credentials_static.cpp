// Keys written down: the environment, the credentials file, the config file.
#include "aws/credentials_sources.hpp"
#include "aws/error.hpp"

namespace hoist::aws::sources {
namespace {

// Keys of one INI section, or nullptr when it has none; half a pair is an
// error, as botocore's PartialCredentialsError.
std::shared_ptr<CredentialProvider> from_section(const IniFile& file, const std::string& section,
                                                 const std::string& where, std::string source) {
  auto it = file.find(section);
  if (it == file.end()) return nullptr;
  const auto& s = it->second;
  auto key = s.find("aws_access_key_id");
  auto secret = s.find("aws_secret_access_key");
  if (key == s.end() && secret == s.end()) return nullptr;
  if (key == s.end() || secret == s.end() || key->second.empty() || secret->second.empty()) {
    throw Failure(Failure::config, "partial credentials in [" + section + "] of " + where +
                                       ": both aws_access_key_id and aws_secret_access_key are needed");
  }
  Credentials c;
  c.access_key_id = key->second;
  c.secret_access_key = secret->second;
  if (auto t = s.find("aws_session_token"); t != s.end()) {
    c.session_token = t->second;
  } else if (auto u = s.find("aws_security_token"); u != s.end()) {
    c.session_token = u->second;
  }
  c.source = std::move(source);
  return std::make_shared<StaticCredentialProvider>(std::move(c));
}

}  // namespace

std::shared_ptr<CredentialProvider> environment(const Config& config) {
  auto key = config.env("AWS_ACCESS_KEY_ID");
  if (!key) return nullptr;
  auto secret = config.env("AWS_SECRET_ACCESS_KEY");
  if (!secret) {
    throw Failure(Failure::config, "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not");
  }
  Credentials c;
  c.access_key_id = *key;
  c.secret_access_key = *secret;
  c.session_token = config.env("AWS_SESSION_TOKEN").value_or(config.env("AWS_SECURITY_TOKEN").value_or(""));
  c.source = "environment";
  return std::make_shared<StaticCredentialProvider>(std::move(c));
}

std::shared_ptr<CredentialProvider> shared_credentials_file(const Config& config, const std::string& profile) {
  return from_section(config.credentials_file, profile, config.credentials_path,
                      "shared-credentials-file (profile " + profile + ")");
}

std::shared_ptr<CredentialProvider> config_file(const Config& config, const std::string& profile) {
  if (profile == "default" && !config.config_file.contains("profile default")) {
    return from_section(config.config_file, "default", config.config_path, "config-file (profile default)");
  }
  return from_section(config.config_file, "profile " + profile, config.config_path,
                      "config-file (profile " + profile + ")");
}

}  // namespace hoist::aws::sources
