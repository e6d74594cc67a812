// Signs requests described as JSON lines on stdin and prints one JSON line
// per request with every SigV4 step, so tests/e2e/test_sigv4_botocore.py can
// compare thousands of cases with botocore in one process.
//
// In:  {"mode": "header"|"query", "method", "endpoint", "path",
//       "query": [[k, v]...], "headers": [[k, v]...], "body_b64",
//       "body_file": bool, "service", "region", "s3": bool, "unsigned": bool,
//       "payload_hash", "access_key", "secret_key", "token", "time": epoch
//       seconds, "expires": seconds}
// Out: {"canonical_request", "string_to_sign", "signature",
//       "headers": [[k, v]...] (header mode) | "url" (query mode)} or {"error"}
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "aws/crypto.hpp"
#include "aws/sigv4.hpp"

namespace {

using hoist::aws::HttpRequest;
using nlohmann::json;

std::vector<std::pair<std::string, std::string>> pairs(const json& list) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& item : list) out.emplace_back(item.at(0).get<std::string>(), item.at(1).get<std::string>());
  return out;
}

json sign_one(const json& in, const std::string& body_path) {
  HttpRequest request;
  request.method = in.at("method");
  request.endpoint = in.at("endpoint");
  request.path = in.at("path");
  request.query = pairs(in.value("query", json::array()));
  request.headers = pairs(in.value("headers", json::array()));
  const std::string body = hoist::aws::base64_decode(in.value("body_b64", ""));
  if (in.value("body_file", false)) {
    // Padding on both sides so the tool also exercises offset + length.
    std::ofstream(body_path, std::ios::binary | std::ios::trunc) << "pad" << body << "pad";
    request.body.file = body_path;
    request.body.offset = 3;
    request.body.length = body.size();
  } else {
    request.body.data = body;
  }

  hoist::aws::Credentials credentials;
  credentials.access_key_id = in.at("access_key");
  credentials.secret_access_key = in.at("secret_key");
  credentials.session_token = in.value("token", "");

  hoist::aws::sigv4::SigningParams params;
  params.region = in.at("region");
  params.service = in.at("service");
  params.time = std::chrono::system_clock::from_time_t(in.at("time").get<std::time_t>());
  params.s3_rules = in.value("s3", false);
  params.unsigned_payload = in.value("unsigned", false);
  params.payload_hash = in.value("payload_hash", "");

  hoist::aws::sigv4::Trace trace;
  json out;
  if (in.value("mode", "header") == "query") {
    out["url"] = hoist::aws::sigv4::presign(request, credentials, params,
                                            std::chrono::seconds(in.value("expires", 3600)), &trace);
  } else {
    hoist::aws::sigv4::sign(request, credentials, params, &trace);
    out["headers"] = request.headers;
  }
  out["canonical_request"] = trace.canonical_request;
  out["string_to_sign"] = trace.string_to_sign;
  out["signature"] = trace.signature;
  return out;
}

}  // namespace

int main() {
  const std::string body_path =
      (std::filesystem::temp_directory_path() / ("hoist_sigv4_tool_" + std::to_string(::getpid()))).string();
  std::string line;
  while (std::getline(std::cin, line)) {
    if (line.empty()) continue;
    json out;
    try {
      json in = json::parse(line);
      out = sign_one(in, body_path);
      if (in.contains("id")) out["id"] = in["id"];
    } catch (const std::exception& e) {
      out = json{{"error", e.what()}};
    }
    std::cout << out.dump(-1, ' ', false, json::error_handler_t::replace) << '\n' << std::flush;
  }
  std::filesystem::remove(body_path);
  return 0;
}
