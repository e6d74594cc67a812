// Roles: AssumeRole from a source profile or credential_source, and
// AssumeRoleWithWebIdentity from a token file (EKS, CI systems).
#include <fstream>
#include <sstream>

#include "aws/client.hpp"
#include "aws/credentials_sources.hpp"
#include "aws/error.hpp"
#include "aws/sts.hpp"

namespace hoist::aws::sources {
namespace {

// STS needs a region even when the user set none; botocore then uses the
// global endpoint, which is us-east-1.
Config with_region(const Config& config) {
  Config c = config;
  c.overrides.region = config.region_if_set().value_or("us-east-1");
  return c;
}

std::shared_ptr<Session> sts_session(const Config& config, std::shared_ptr<CredentialProvider> credentials) {
  auto s = std::make_shared<Session>();
  s->config = with_region(config);
  s->region = s->config.overrides.region;
  s->credentials = std::move(credentials);
  s->retry = std::make_shared<RetryPolicy>();
  return s;
}

bool has_static_keys(const IniSection& s) {
  return s.contains("aws_access_key_id") || s.contains("aws_secret_access_key");
}

bool is_role_profile(const IniSection& s) {
  return s.contains("role_arn") && !s.contains("web_identity_token_file");
}

std::optional<std::string> value(const IniSection& s, const std::string& key) {
  auto it = s.find(key);
  if (it == s.end() || it->second.empty()) return std::nullopt;
  return it->second;
}

class AssumeRoleProvider : public CredentialProvider {
 public:
  AssumeRoleProvider(const Config& config, AssumeRoleRequest request, std::shared_ptr<CredentialProvider> source,
                     std::string label)
      : session_(sts_session(config, std::move(source))), request_(std::move(request)), label_(std::move(label)) {}

 protected:
  Credentials fetch() override {
    Sts sts(session_);
    Credentials c = sts.assume_role(request_);
    c.source = label_;
    return c;
  }

 private:
  std::shared_ptr<Session> session_;
  AssumeRoleRequest request_;
  std::string label_;
};

class WebIdentityProvider : public CredentialProvider {
 public:
  WebIdentityProvider(const Config& config, std::string token_file, std::string role_arn, std::string session_name,
                      std::string label)
      : endpoint_(with_region(config).endpoint("sts")),
        token_file_(std::move(token_file)),
        role_arn_(std::move(role_arn)),
        session_name_(std::move(session_name)),
        label_(std::move(label)) {}

 protected:
  Credentials fetch() override {
    // Read on every refresh: the platform rotates the token file.
    std::ifstream in(token_file_);
    if (!in) throw Failure(Failure::config, "cannot read the web identity token file " + token_file_);
    std::stringstream ss;
    ss << in.rdbuf();
    std::string token = ss.str();
    while (!token.empty() && (token.back() == '\n' || token.back() == '\r')) token.pop_back();
    Credentials c = assume_role_with_web_identity(endpoint_, role_arn_, session_name_, token, HttpOptions{});
    c.source = label_;
    return c;
  }

 private:
  std::string endpoint_, token_file_, role_arn_, session_name_, label_;
};

std::shared_ptr<CredentialProvider> named_source(const Config& config, const std::string& profile,
                                                 const std::string& name) {
  std::shared_ptr<CredentialProvider> p;
  if (name == "Environment") {
    p = environment(config);
  } else if (name == "EcsContainer") {
    p = container(config);
  } else if (name == "Ec2InstanceMetadata") {
    p = instance_metadata(config);
  } else {
    throw Failure(Failure::config, "profile '" + profile + "': unknown credential_source '" + name +
                                       "' (expected Environment, Ec2InstanceMetadata or EcsContainer)");
  }
  if (!p) {
    throw Failure(Failure::config, "profile '" + profile + "': credential_source " + name + " has no credentials");
  }
  return p;
}

}  // namespace

std::shared_ptr<CredentialProvider> assume_role(const Config& config, const std::string& profile,
                                                std::set<std::string> visited) {
  IniSection section = config.profile(profile);
  if (!is_role_profile(section)) return nullptr;
  auto fail = [&](const std::string& why) { throw Failure(Failure::config, "profile '" + profile + "': " + why); };
  auto role_arn = value(section, "role_arn");
  auto source_profile = value(section, "source_profile");
  auto credential_source = value(section, "credential_source");
  if (!role_arn) fail("role_arn is empty");
  if (source_profile && credential_source) fail("set source_profile or credential_source, not both");
  if (!source_profile && !credential_source) fail("role_arn needs source_profile or credential_source");
  if (section.contains("mfa_serial")) fail("mfa_serial is not supported by hoist; use `aws sts get-session-token`");
  visited.insert(profile);

  std::shared_ptr<CredentialProvider> source;
  std::string label;
  if (source_profile) {
    const std::string& sp = *source_profile;
    if (!config.has_profile(sp)) fail("its source_profile '" + sp + "' does not exist");
    IniSection src = config.profile(sp);
    // A profile may name itself to use its own static keys; other loops fail.
    if (visited.contains(sp) && (sp != profile || !has_static_keys(src))) {
      fail("source_profile '" + sp + "' makes a loop of profiles");
    }
    if (has_static_keys(src) || !is_role_profile(src)) {
      source = profile_chain(config, sp, false);
      if (!source) fail("its source_profile '" + sp + "' has no credentials");
    } else {
      source = assume_role(config, sp, visited);
    }
    label = "assume-role (profile " + profile + " via source_profile " + sp + ")";
  } else {
    source = named_source(config, profile, *credential_source);
    label = "assume-role (profile " + profile + " via credential_source " + *credential_source + ")";
  }

  AssumeRoleRequest request;
  request.role_arn = *role_arn;
  request.session_name = value(section, "role_session_name").value_or(default_session_name());
  request.external_id = value(section, "external_id").value_or("");
  if (auto d = value(section, "duration_seconds")) {
    try {
      request.duration = std::chrono::seconds(std::stol(*d));
    } catch (const std::exception&) {
      fail("duration_seconds is not a number");
    }
  }
  return std::make_shared<AssumeRoleProvider>(config, std::move(request), std::move(source), std::move(label));
}

std::shared_ptr<CredentialProvider> web_identity(const Config& config, const std::string& profile, bool use_env) {
  IniSection section = config.profile(profile);
  // Each setting: the environment first (unless --profile), then the profile.
  bool from_env = false;
  auto setting = [&](const char* env_name, const char* key) -> std::optional<std::string> {
    if (use_env) {
      if (auto e = config.env(env_name)) {
        from_env = true;
        return e;
      }
    }
    return value(section, key);
  };
  auto token_file = setting("AWS_WEB_IDENTITY_TOKEN_FILE", "web_identity_token_file");
  if (!token_file) return nullptr;
  auto role_arn = setting("AWS_ROLE_ARN", "role_arn");
  if (!role_arn) {
    throw Failure(Failure::config, "a web identity token file is configured but no role: set AWS_ROLE_ARN or role_arn");
  }
  auto session_name = setting("AWS_ROLE_SESSION_NAME", "role_session_name").value_or(default_session_name());
  std::string label = from_env ? "web-identity" : "web-identity (profile " + profile + ")";
  return std::make_shared<WebIdentityProvider>(config, *token_file, *role_arn, session_name, label);
}

}  // namespace hoist::aws::sources
