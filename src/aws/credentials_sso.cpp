// IAM Identity Center (SSO): the access token `aws sso login` cached, traded
// for role credentials at the portal (GetRoleCredentials).
#include <openssl/evp.h>

#include <array>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "aws/credentials_sources.hpp"
#include "aws/crypto.hpp"
#include "aws/error.hpp"

namespace hoist::aws::sources {
namespace {

std::string sha1_hex(const std::string& data) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int size = 0;
  EVP_Digest(data.data(), data.size(), digest.data(), &size, EVP_sha1(), nullptr);
  return hex({reinterpret_cast<const char*>(digest.data()), size});
}

struct SsoSettings {
  std::string cache_key;  // the sso-session name, or the legacy start URL
  std::string region;
  std::string account_id;
  std::string role_name;
};

class SsoProvider : public CredentialProvider {
 public:
  SsoProvider(const Config& config, std::string profile, SsoSettings settings)
      : profile_(std::move(profile)), settings_(std::move(settings)) {
    portal_ = config.configured_endpoint("sso").value_or("https://portal.sso." + settings_.region + ".amazonaws.com");
    while (!portal_.empty() && portal_.back() == '/') portal_.pop_back();
  }

 protected:
  Credentials fetch() override {
    std::string token = cached_token();
    HttpRequest req;
    req.endpoint = portal_;
    req.path = "/federation/credentials";
    req.query = {{"account_id", settings_.account_id}, {"role_name", settings_.role_name}};
    req.headers.emplace_back("x-amz-sso_bearer_token", token);
    HttpResponse resp;
    try {
      resp = http_send(req, HttpOptions{});
    } catch (const TransportError& e) {
      throw Failure(Failure::unreachable, "the SSO portal " + portal_ + " did not answer: " + e.what());
    }
    if (resp.status == 401 || resp.status == 403) {
      throw Failure(Failure::config, "the SSO session of profile '" + profile_ +
                                         "' is no longer valid: run `aws sso login --profile " + profile_ + "`");
    }
    if (resp.status != 200) {
      throw Failure(Failure::bad_answer, "SSO GetRoleCredentials failed with HTTP " + std::to_string(resp.status));
    }
    nlohmann::json j = nlohmann::json::parse(resp.body, nullptr, false);
    const auto& rc = j.is_object() ? j.value("roleCredentials", nlohmann::json::object()) : nlohmann::json::object();
    Credentials c;
    c.access_key_id = rc.value("accessKeyId", "");
    c.secret_access_key = rc.value("secretAccessKey", "");
    c.session_token = rc.value("sessionToken", "");
    if (c.access_key_id.empty() || c.secret_access_key.empty()) {
      throw Failure(Failure::bad_answer, "SSO GetRoleCredentials returned no credentials");
    }
    if (auto e = rc.find("expiration"); e != rc.end() && e->is_number()) {
      c.expiration = std::chrono::system_clock::time_point(std::chrono::milliseconds(e->get<std::int64_t>()));
    }
    c.source = "sso (profile " + profile_ + ")";
    return c;
  }

 private:
  // ~/.aws/sso/cache/<sha1 of the session name or start URL>.json
  std::string cached_token() const {
    const char* home = std::getenv("HOME");
    std::string path = std::string(home ? home : "") + "/.aws/sso/cache/" + sha1_hex(settings_.cache_key) + ".json";
    std::string login = "run `aws sso login --profile " + profile_ + "`";
    std::ifstream in(path);
    if (!in) throw Failure(Failure::config, "no SSO token for profile '" + profile_ + "' (" + path + "): " + login);
    std::stringstream ss;
    ss << in.rdbuf();
    auto j = nlohmann::json::parse(ss.str(), nullptr, false);
    if (!j.is_object() || !j.contains("accessToken") || !j.contains("expiresAt")) {
      throw Failure(Failure::config, "the SSO token cache " + path + " is not usable: " + login);
    }
    std::string expires = j.value("expiresAt", "");
    std::chrono::system_clock::time_point at;
    try {
      at = parse_time(expires);
    } catch (const std::invalid_argument&) {
      throw Failure(Failure::config, "the SSO token cache " + path + " has no valid expiresAt: " + login);
    }
    if (at <= std::chrono::system_clock::now()) {
      throw Failure(Failure::config, "the SSO session of profile '" + profile_ + "' has expired: " + login);
    }
    return j.value("accessToken", "");
  }

  std::string profile_;
  SsoSettings settings_;
  std::string portal_;
};

}  // namespace

std::shared_ptr<CredentialProvider> sso(const Config& config, const std::string& profile) {
  auto get = [&](const char* key) { return config.get(profile, key); };
  auto session = get("sso_session");
  auto start_url = get("sso_start_url");
  if (!session && !start_url) return nullptr;
  auto fail = [&](const std::string& why) { throw Failure(Failure::config, "SSO profile '" + profile + "': " + why); };
  SsoSettings s;
  if (session) {
    if (!config.config_file.contains("sso-session " + *session)) fail("[sso-session " + *session + "] is not defined");
    auto url = config.sso_session(*session, "sso_start_url");
    auto region = config.sso_session(*session, "sso_region");
    if (!url || !region) fail("[sso-session " + *session + "] needs sso_start_url and sso_region");
    s.cache_key = *session;
    s.region = *region;
  } else {
    auto region = get("sso_region");
    if (!region) fail("sso_region is missing");
    s.cache_key = *start_url;
    s.region = *region;
  }
  auto account = get("sso_account_id");
  auto role = get("sso_role_name");
  if (!account || !role) fail("sso_account_id and sso_role_name are needed");
  s.account_id = *account;
  s.role_name = *role;
  return std::make_shared<SsoProvider>(config, profile, std::move(s));
}

}  // namespace hoist::aws::sources
