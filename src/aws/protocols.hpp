#pragma once
// The three wire protocols hoist speaks: query (EC2, IAM, STS, SNS: form
// POST, XML back), JSON 1.1 (ECR, SSM, Logs: X-Amz-Target), and rest-xml
// (S3, built directly in s3.cpp). Pagination helpers follow the tokens.
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <pugixml.hpp>
#include <string>
#include <string_view>

#include "aws/client.hpp"

namespace hoist::aws {

using QueryParams = std::vector<std::pair<std::string, std::string>>;

// POSTs Action/Version plus params; returns the parsed XML response.
// A value in an application/x-www-form-urlencoded body, byte for byte as
// botocore sends query-protocol parameters (Python's urlencode: RFC 3986
// unreserved characters kept, a space as '+', the rest %XX).
std::string form_encode(std::string_view s);

std::shared_ptr<pugi::xml_document> query_call(Client& client, const std::string& action, const QueryParams& params);

// POSTs a JSON 1.1 request with X-Amz-Target "<prefix>.<action>".
nlohmann::json json_call(Client& client, const std::string& action, const nlohmann::json& body);

// Calls json_call repeatedly, following `token_field` ("nextToken") until it
// is absent; `page` is called with each response.
void json_paginate(Client& client, const std::string& action, nlohmann::json body, const std::string& token_field,
                   const std::function<void(const nlohmann::json&)>& page);

// Calls query_call repeatedly following NextToken / Marker (`request_token`
// param name, `response_token` element name anywhere in the response).
void query_paginate(Client& client, const std::string& action, QueryParams params, const std::string& request_token,
                    const std::string& response_token, const std::function<void(const pugi::xml_document&)>& page);

// Text of the first descendant element with this name ("" when absent),
// ignoring namespaces.
std::string xml_text(const pugi::xml_node& node, const char* name);

}  // namespace hoist::aws
