// Credentials served by the platform: the ECS/EKS container endpoint and the
// EC2 instance metadata service (the instance role).
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "aws/credentials_sources.hpp"
#include "aws/error.hpp"
#include "aws/imds.hpp"

namespace hoist::aws::sources {
namespace {

// {AccessKeyId, SecretAccessKey, Token, Expiration}: both services' shape.
Credentials parse_metadata_credentials(const std::string& body, const std::string& what, std::string source) {
  auto j = nlohmann::json::parse(body, nullptr, false);
  if (!j.is_object()) throw std::runtime_error(what + " did not return JSON");
  Credentials c;
  c.access_key_id = j.value("AccessKeyId", "");
  c.secret_access_key = j.value("SecretAccessKey", "");
  c.session_token = j.value("Token", "");
  if (c.access_key_id.empty() || c.secret_access_key.empty()) {
    throw std::runtime_error(what + " returned no AccessKeyId/SecretAccessKey");
  }
  if (auto e = j.value("Expiration", ""); !e.empty()) c.expiration = parse_time(e);
  c.source = std::move(source);
  return c;
}

// botocore accepts only https, loopback and the container hosts, so that a
// token is never sent to an arbitrary plain-http host.
bool allowed_container_url(const std::string& url) {
  if (url.rfind("https://", 0) == 0) return true;
  if (url.rfind("http://", 0) != 0) return false;
  std::string rest = url.substr(7);
  std::string host;
  if (!rest.empty() && rest[0] == '[') {
    host = rest.substr(1, rest.find(']') - 1);
  } else {
    host = rest.substr(0, rest.find_first_of(":/?"));
  }
  return host == "localhost" || host.rfind("127.", 0) == 0 || host == "::1" || host == "169.254.170.2" ||
         host == "169.254.170.23" || host == "fd00:ec2::23";
}

class ContainerProvider : public CredentialProvider {
 public:
  ContainerProvider(std::string url, std::string token, std::string token_file)
      : url_(std::move(url)), token_(std::move(token)), token_file_(std::move(token_file)) {}

 protected:
  Credentials fetch() override {
    HttpRequest req;
    auto scheme_end = url_.find("://");
    auto path_start = url_.find('/', scheme_end == std::string::npos ? 0 : scheme_end + 3);
    req.endpoint = url_.substr(0, path_start);
    std::string path = path_start == std::string::npos ? "/" : url_.substr(path_start);
    // The query string, if any, is passed on as raw pairs.
    if (auto q = path.find('?'); q != std::string::npos) {
      std::string query = path.substr(q + 1);
      path.resize(q);
      std::stringstream ss(query);
      std::string pair;
      while (std::getline(ss, pair, '&')) {
        auto eq = pair.find('=');
        req.query.emplace_back(pair.substr(0, eq), eq == std::string::npos ? "" : pair.substr(eq + 1));
      }
    }
    req.path = path;
    req.headers.emplace_back("Accept", "application/json");
    if (auto t = auth_token(); !t.empty()) req.headers.emplace_back("Authorization", t);
    // botocore: 2 s per attempt, 3 attempts.
    auto http = metadata_http(std::chrono::seconds(2));
    std::string last_error;
    for (int attempt = 0; attempt < 3; ++attempt) {
      try {
        HttpResponse r = http_send(req, http);
        if (r.status == 200)
          return parse_metadata_credentials(r.body, "the container credentials endpoint", "container");
        last_error = "HTTP " + std::to_string(r.status);
        if (r.status < 500) break;
      } catch (const TransportError& e) {
        last_error = e.what();
      }
    }
    throw Failure(Failure::config, "the container credentials endpoint failed: " + last_error);
  }

 private:
  std::string auth_token() const {
    std::string t = token_;
    if (!token_file_.empty()) {
      std::ifstream in(token_file_);
      if (!in) throw Failure(Failure::config, "cannot read AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE " + token_file_);
      std::stringstream ss;
      ss << in.rdbuf();
      t = ss.str();
    }
    if (t.find_first_of("\r\n") != std::string::npos) {
      throw Failure(Failure::config, "the container authorization token is not a legal header value");
    }
    return t;
  }

  std::string url_, token_, token_file_;
};

class InstanceMetadataProvider : public CredentialProvider {
 public:
  explicit InstanceMetadataProvider(const Config& config) : imds_(config) {}

 protected:
  Credentials fetch() override {
    const std::string base = "/latest/meta-data/iam/security-credentials/";
    auto roles = imds_.get(base);
    if (!roles || roles->empty()) throw std::runtime_error("this instance has no IAM role");
    std::string role = roles->substr(0, roles->find('\n'));
    auto body = imds_.get(base + role);
    if (!body) throw std::runtime_error("IMDS has no credentials for role " + role);
    return parse_metadata_credentials(*body, "IMDS", "instance-metadata");
  }

 private:
  Imds imds_;
};

}  // namespace

std::shared_ptr<CredentialProvider> container(const Config& config) {
  std::string url;
  if (auto rel = config.env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")) {
    url = "http://169.254.170.2" + *rel;
  } else if (auto full = config.env("AWS_CONTAINER_CREDENTIALS_FULL_URI")) {
    url = *full;
    if (!allowed_container_url(url)) {
      throw Failure(Failure::config,
                    "AWS_CONTAINER_CREDENTIALS_FULL_URI must use https or a loopback host, not " + url);
    }
  } else {
    return nullptr;
  }
  return std::make_shared<ContainerProvider>(url, config.env("AWS_CONTAINER_AUTHORIZATION_TOKEN").value_or(""),
                                             config.env("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE").value_or(""));
}

std::shared_ptr<CredentialProvider> instance_metadata(const Config& config) {
  auto p = std::make_shared<InstanceMetadataProvider>(config);
  if (Imds(config).disabled()) return nullptr;
  return p;
}

}  // namespace hoist::aws::sources
