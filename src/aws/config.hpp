#pragma once
// The aws CLI's configuration as hoist sees it: shared config and credentials
// files, the selected profile, the region and each service's endpoint.
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace hoist::aws {

// One INI section: keys lower-cased; nested sections ("s3 =\n  key = v")
// are flattened as "s3.key".
using IniSection = std::map<std::string, std::string>;
using IniFile = std::map<std::string, IniSection>;

// Parses the aws CLI's INI dialect (comments with # or ;, continuation lines
// for nested sections). Throws Failure (config) with the file and line.
IniFile parse_ini(const std::string& text, const std::string& file_name);

// What the command line said; empty means "not given".
struct Overrides {
  std::string profile;
  std::string region;
  std::string endpoint_url;
  std::string bucket;  // hoist's own bucket (--bucket), instead of hoist-<account>-<region>
};

class Config {
 public:
  // Reads the environment and the shared files (AWS_CONFIG_FILE,
  // AWS_SHARED_CREDENTIALS_FILE, defaulting to ~/.aws/config and credentials).
  static Config load(const Overrides& overrides);

  // The profile name in use: --profile, AWS_DEFAULT_PROFILE, AWS_PROFILE,
  // "default" (botocore reads AWS_DEFAULT_PROFILE first).
  [[nodiscard]] const std::string& profile_name() const { return profile_name_; }
  // True when the profile was named explicitly (--profile or AWS_PROFILE).
  [[nodiscard]] bool profile_explicit() const { return profile_explicit_; }
  // True when --profile named it: only then does botocore skip the
  // environment keys (AWS_PROFILE alone still loses to AWS_ACCESS_KEY_ID).
  [[nodiscard]] bool profile_from_command_line() const { return !overrides.profile.empty(); }
  // Every key of a profile, the credentials file's over the config file's
  // (botocore's full_config); empty when the profile does not exist.
  [[nodiscard]] IniSection profile(const std::string& name) const;
  // A key of a profile: from the config file ([profile x] / [default]), or
  // for credential keys, the credentials file first.
  [[nodiscard]] std::optional<std::string> get(const std::string& profile, const std::string& key) const;
  [[nodiscard]] bool has_profile(const std::string& name) const;
  // A [sso-session NAME] section's key.
  [[nodiscard]] std::optional<std::string> sso_session(const std::string& name, const std::string& key) const;

  // --region, AWS_REGION, AWS_DEFAULT_REGION, the profile's region.
  // Throws Failure (config) when none is set.
  [[nodiscard]] std::string region() const;
  [[nodiscard]] std::optional<std::string> region_if_set() const;

  // The endpoint for a service id as in botocore ("s3", "ec2", "iam", "sts",
  // "ecr", "ssm", "logs" (CloudWatch Logs), "sns", "pricing"): --endpoint-url,
  // AWS_ENDPOINT_URL_<SERVICE>, AWS_ENDPOINT_URL, the profile's
  // endpoint_url, else the public AWS endpoint for the region.
  [[nodiscard]] std::string endpoint(const std::string& service) const;
  // True when the endpoint is not AWS's own (an emulator or proxy).
  [[nodiscard]] bool custom_endpoint(const std::string& service) const;
  // The configured endpoint only (no AWS default), e.g. for the SSO portal
  // whose default depends on sso_region rather than the profile's region.
  [[nodiscard]] std::optional<std::string> configured_endpoint(const std::string& service) const;
  // hoist addresses S3 path-style everywhere (https://host/bucket/key): it
  // works with every emulator and custom endpoint and with AWS for the
  // DNS-safe bucket names hoist creates, so virtual-hosted style is not
  // needed. Kept as a function so one place decides if that ever changes.
  [[nodiscard]] static bool s3_path_style() { return true; }

  // An environment variable, when set and not empty.
  [[nodiscard]] std::optional<std::string> env(const std::string& name) const;

  Overrides overrides;
  IniFile config_file;
  IniFile credentials_file;
  std::string config_path;
  std::string credentials_path;

 private:
  std::string profile_name_;
  bool profile_explicit_ = false;
};

}  // namespace hoist::aws
