#pragma once
// A clean AWS environment for one test: every AWS_* variable that steers the
// config or the credential chain is unset (and restored afterwards), HOME and
// the shared files point into a throw-away folder.
#include <unistd.h>

#include <array>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <string>

namespace hoist::test {

class AwsEnv {
 public:
  AwsEnv() {
    std::string tmpl = "/tmp/hoist-env-XXXXXX";
    dir_ = ::mkdtemp(tmpl.data());
    for (const char* name : kNames) unset(name);
    set("HOME", dir_);
    set("AWS_CONFIG_FILE", dir_ + "/config");
    set("AWS_SHARED_CREDENTIALS_FILE", dir_ + "/credentials");
    set("AWS_EC2_METADATA_DISABLED", "true");
  }
  ~AwsEnv() {
    for (auto& [name, value] : saved_) {
      if (value) {
        ::setenv(name.c_str(), value->c_str(), 1);
      } else {
        ::unsetenv(name.c_str());
      }
    }
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  AwsEnv(const AwsEnv&) = delete;
  AwsEnv& operator=(const AwsEnv&) = delete;

  void set(const std::string& name, const std::string& value) {
    save(name);
    ::setenv(name.c_str(), value.c_str(), 1);
  }
  void unset(const std::string& name) {
    save(name);
    ::unsetenv(name.c_str());
  }
  // Writes a file under the temp folder and returns its path.
  std::string write(const std::string& name, const std::string& text) const {
    std::string path = dir_ + "/" + name;
    std::filesystem::create_directories(std::filesystem::path(path).parent_path());
    std::ofstream(path) << text;
    return path;
  }
  void config(const std::string& text) const { write("config", text); }
  void credentials(const std::string& text) const { write("credentials", text); }
  [[nodiscard]] const std::string& dir() const { return dir_; }

 private:
  void save(const std::string& name) {
    if (saved_.contains(name)) return;
    const char* v = std::getenv(name.c_str());
    saved_[name] = v ? std::optional<std::string>(v) : std::nullopt;
  }

  static constexpr auto kNames = std::to_array<const char*>({"AWS_PROFILE",
                                                             "AWS_DEFAULT_PROFILE",
                                                             "AWS_REGION",
                                                             "AWS_DEFAULT_REGION",
                                                             "AWS_ACCESS_KEY_ID",
                                                             "AWS_SECRET_ACCESS_KEY",
                                                             "AWS_SESSION_TOKEN",
                                                             "AWS_SECURITY_TOKEN",
                                                             "AWS_ENDPOINT_URL",
                                                             "AWS_ENDPOINT_URL_STS",
                                                             "AWS_ENDPOINT_URL_S3",
                                                             "AWS_ENDPOINT_URL_IAM",
                                                             "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS",
                                                             "AWS_ENDPOINT_URL_SSO",
                                                             "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
                                                             "AWS_WEB_IDENTITY_TOKEN_FILE",
                                                             "AWS_ROLE_ARN",
                                                             "AWS_ROLE_SESSION_NAME",
                                                             "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                                                             "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                                                             "AWS_CONTAINER_AUTHORIZATION_TOKEN",
                                                             "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
                                                             "AWS_EC2_METADATA_SERVICE_ENDPOINT",
                                                             "AWS_EC2_METADATA_DISABLED"});
  std::string dir_;
  std::map<std::string, std::optional<std::string>> saved_;
};

}  // namespace hoist::test
