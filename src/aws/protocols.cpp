#include "aws/protocols.hpp"

#include <cstring>
#include <set>

#include "aws/error.hpp"
#include "aws/sigv4.hpp"

namespace hoist::aws {
namespace {

std::string local_name(const char* name) {
  const char* colon = std::strrchr(name, ':');
  return colon != nullptr ? colon + 1 : name;
}

}  // namespace

std::string xml_text(const pugi::xml_node& node, const char* name) {
  const pugi::xml_node found = node.find_node(
      [name](const pugi::xml_node& n) { return n.type() == pugi::node_element && local_name(n.name()) == name; });
  return found ? found.text().get() : std::string();
}

std::string form_encode(std::string_view s) {
  std::string out = sigv4::uri_encode(s, false);
  // Only a space becomes "%20" (a '%' of the text is "%25"): a '+', as
  // Python's urlencode makes it.
  for (std::size_t at = out.find("%20"); at != std::string::npos; at = out.find("%20", at + 1)) out.replace(at, 3, "+");
  return out;
}

std::shared_ptr<pugi::xml_document> query_call(Client& client, const std::string& action, const QueryParams& params) {
  std::string body = "Action=" + form_encode(action) + "&Version=" + form_encode(client.service().api_version);
  for (const auto& [key, value] : params) body += "&" + form_encode(key) + "=" + form_encode(value);

  HttpRequest request;
  request.method = "POST";
  request.path = "/";
  request.headers.emplace_back("Content-Type", "application/x-www-form-urlencoded; charset=utf-8");
  request.body.data = std::move(body);
  const HttpResponse response = client.send(action, std::move(request));

  auto doc = std::make_shared<pugi::xml_document>();
  if (!doc->load_buffer(response.body.data(), response.body.size()))
    throw AwsError(client.service().id, action, "MalformedResponse", "the response is not XML",
                   response.header("x-amzn-RequestId"), response.status);
  return doc;
}

nlohmann::json json_call(Client& client, const std::string& action, const nlohmann::json& body) {
  HttpRequest request;
  request.method = "POST";
  request.path = "/";
  request.headers.emplace_back("Content-Type", "application/x-amz-json-1.1");
  request.headers.emplace_back("X-Amz-Target", client.service().api_version + "." + action);
  // An empty request is "{}", never "null".
  request.body.data = body.is_null() ? std::string("{}") : body.dump();
  const HttpResponse response = client.send(action, std::move(request));

  if (response.body.empty()) return nlohmann::json::object();
  auto json = nlohmann::json::parse(response.body, nullptr, false);
  if (json.is_discarded())
    throw AwsError(client.service().id, action, "MalformedResponse", "the response is not JSON",
                   response.header("x-amzn-RequestId"), response.status);
  return json;
}

void json_paginate(Client& client, const std::string& action, nlohmann::json body, const std::string& token_field,
                   const std::function<void(const nlohmann::json&)>& page) {
  if (body.is_null()) body = nlohmann::json::object();
  std::set<std::string> seen;  // a token seen twice would loop forever
  for (;;) {
    const nlohmann::json response = json_call(client, action, body);
    page(response);
    const auto it = response.find(token_field);
    if (it == response.end() || !it->is_string() || it->get<std::string>().empty()) return;
    if (!seen.insert(it->get<std::string>()).second) return;
    body[token_field] = *it;
  }
}

void query_paginate(Client& client, const std::string& action, QueryParams params, const std::string& request_token,
                    const std::string& response_token, const std::function<void(const pugi::xml_document&)>& page) {
  std::set<std::string> seen;
  for (;;) {
    const auto doc = query_call(client, action, params);
    page(*doc);
    const std::string token = xml_text(*doc, response_token.c_str());
    if (token.empty() || !seen.insert(token).second) return;
    std::erase_if(params, [&](const auto& p) { return p.first == request_token; });
    params.emplace_back(request_token, token);
  }
}

}  // namespace hoist::aws
