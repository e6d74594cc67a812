#include "aws/sts.hpp"

#include <pugixml.hpp>

#include "aws/credentials_sources.hpp"
#include "aws/error.hpp"
#include "aws/protocols.hpp"

namespace hoist::aws {
namespace {

constexpr const char* kVersion = "2011-06-15";

// <Credentials> of AssumeRole / AssumeRoleWithWebIdentity results.
Credentials read_credentials(const pugi::xml_node& root) {
  Credentials c;
  c.access_key_id = xml_text(root, "AccessKeyId");
  c.secret_access_key = xml_text(root, "SecretAccessKey");
  c.session_token = xml_text(root, "SessionToken");
  if (auto e = xml_text(root, "Expiration"); !e.empty()) c.expiration = sources::parse_time(e);
  if (c.access_key_id.empty() || c.secret_access_key.empty()) {
    throw AwsError("sts", "AssumeRole", "MalformedResponse", "no credentials in the STS response", "", 200);
  }
  return c;
}

}  // namespace

Service sts_service() {
  return Service{"sts", "sts", Protocol::query, kVersion};
}

Sts::Sts(std::shared_ptr<Session> session) : client_(std::move(session), sts_service()) {}

CallerIdentity Sts::get_caller_identity() {
  auto doc = query_call(client_, "GetCallerIdentity", {});
  return CallerIdentity{xml_text(*doc, "Account"), xml_text(*doc, "Arn"), xml_text(*doc, "UserId")};
}

Credentials Sts::assume_role(const AssumeRoleRequest& r) {
  QueryParams params{{"RoleArn", r.role_arn}, {"RoleSessionName", r.session_name}};
  if (!r.external_id.empty()) params.emplace_back("ExternalId", r.external_id);
  if (r.duration) params.emplace_back("DurationSeconds", std::to_string(r.duration->count()));
  auto doc = query_call(client_, "AssumeRole", params);
  return read_credentials(*doc);
}

Credentials assume_role_with_web_identity(const std::string& endpoint, const std::string& role_arn,
                                          const std::string& session_name, const std::string& token,
                                          const HttpOptions& http) {
  HttpRequest req;
  req.method = "POST";
  req.endpoint = endpoint;
  req.path = "/";
  req.headers.emplace_back("Content-Type", "application/x-www-form-urlencoded; charset=utf-8");
  req.body.data = "Action=AssumeRoleWithWebIdentity&Version=" + std::string(kVersion) +
                  "&RoleArn=" + sources::form_encode(role_arn) +
                  "&RoleSessionName=" + sources::form_encode(session_name) +
                  "&WebIdentityToken=" + sources::form_encode(token);
  HttpResponse resp;
  try {
    resp = http_send(req, http);
  } catch (const TransportError& e) {
    throw AwsError("sts", "AssumeRoleWithWebIdentity", "NetworkError", e.what(), "", 0);
  }
  if (resp.status / 100 != 2) {
    auto info = parse_error(Protocol::query, resp);
    throw AwsError("sts", "AssumeRoleWithWebIdentity", info.code, info.message, info.request_id, resp.status);
  }
  pugi::xml_document doc;
  if (!doc.load_string(resp.body.c_str())) {
    throw AwsError("sts", "AssumeRoleWithWebIdentity", "MalformedResponse", "the response is not XML", "", resp.status);
  }
  return read_credentials(doc);
}

std::string default_session_name() {
  auto now = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch());
  return "botocore-session-" + std::to_string(now.count());
}

}  // namespace hoist::aws
