#include "aws/s3_detail.hpp"

#include <charconv>
#include <nlohmann/json.hpp>
#include <pugixml.hpp>

#include "aws/error.hpp"
#include "aws/partition.hpp"
#include "aws/protocols.hpp"
#include "aws/sigv4.hpp"

namespace hoist::aws::s3_detail {

std::string bucket_path(const std::string& bucket) {
  return "/" + bucket;
}

std::string object_path(const std::string& bucket, const std::string& key) {
  return "/" + bucket + "/" + sigv4::uri_encode(key, /*keep_slash=*/true);
}

std::string_view bucket_of(std::string_view path) {
  if (!path.empty() && path.front() == '/') path.remove_prefix(1);
  return path.substr(0, path.find('/'));
}

namespace {
int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
}  // namespace

std::string url_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%' && i + 2 < s.size() && hex_value(s[i + 1]) >= 0 && hex_value(s[i + 2]) >= 0) {
      out += static_cast<char>(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

std::string xml_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      // S3 keys may hold CR; XML parsers would fold a raw one into LF.
      case '\r':
        out += "&#13;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

void throw_if_error_body(const std::string& operation, const HttpResponse& response) {
  if (response.body.find("<Error>") == std::string::npos) return;
  pugi::xml_document doc;
  if (!doc.load_buffer(response.body.data(), response.body.size())) return;
  auto root = doc.document_element();
  if (std::string_view(root.name()) != "Error") return;
  throw AwsError("s3", operation, xml_text(root, "Code"), xml_text(root, "Message"), xml_text(root, "RequestId"),
                 response.status);
}

std::optional<std::uint64_t> byte_count(std::string_view text, const std::string& operation,
                                        const HttpResponse& response) {
  if (text.empty()) return std::nullopt;
  std::uint64_t n = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || end != text.data() + text.size()) {
    throw AwsError("s3", operation, "MalformedResponse", "byte count '" + std::string(text) + "' is not a number",
                   response.header("x-amz-request-id"), response.status);
  }
  return n;
}

std::string tls_only_policy(const std::string& bucket, const std::string& region) {
  const std::string arn = "arn:" + std::string(partition_of(region).name) + ":s3:::" + bucket;
  nlohmann::json policy = {{"Version", "2012-10-17"},
                           {"Statement",
                            {{{"Sid", "DenyInsecureTransport"},
                              {"Effect", "Deny"},
                              {"Principal", "*"},
                              {"Action", "s3:*"},
                              {"Resource", {arn, arn + "/*"}},
                              {"Condition", {{"Bool", {{"aws:SecureTransport", "false"}}}}}}}}};
  return policy.dump();
}

}  // namespace hoist::aws::s3_detail
