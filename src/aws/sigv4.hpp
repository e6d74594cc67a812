#pragma once
// AWS Signature Version 4, as pure functions named after the spec's steps:
// canonical request -> string to sign -> signing key -> signature. S3 differs
// from other services in two ways: the path is neither normalised nor encoded
// twice, and x-amz-content-sha256 is always sent (UNSIGNED-PAYLOAD allowed).
#include <chrono>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "aws/credentials.hpp"
#include "aws/http.hpp"

namespace hoist::aws::sigv4 {

inline constexpr std::string_view kUnsignedPayload = "UNSIGNED-PAYLOAD";

struct SigningParams {
  std::string region;
  std::string service;  // signing name: "s3", "ec2", "iam", "sts", "ecr", "ssm", "logs", "sns"
  std::chrono::system_clock::time_point time;
  // S3 rules: no path normalisation or double encoding; x-amz-content-sha256.
  bool s3_rules = false;
  // For S3: sign the payload as UNSIGNED-PAYLOAD instead of hashing it.
  bool unsigned_payload = false;
  // Payload hash to use when already known (e.g. a content-addressed blob).
  std::string payload_hash;
};

// RFC 3986 encoding: everything but A-Z a-z 0-9 - _ . ~ is %XX (upper-case);
// '/' too unless keep_slash.
std::string uri_encode(std::string_view s, bool keep_slash);
// The query as SigV4 canonicalises it (and as HttpRequest::url() sends it):
// keys and values uri_encoded, sorted by key then value, joined with '&'.
std::string canonical_query_string(const std::vector<std::pair<std::string, std::string>>& query);
// The canonical URI. S3: the wire path as is. Others, as botocore does:
// dot segments and empty segments removed, then encoded again ('%' -> %25).
std::string canonical_uri(std::string_view path, bool s3_rules);
// "20261124T031500Z" and "20261124".
std::string amz_date(std::chrono::system_clock::time_point t);
std::string date_stamp(std::chrono::system_clock::time_point t);

// Headers botocore never signs (hop-by-hop, or changed by proxies and the
// HTTP client); skipping them keeps canonical requests identical to botocore's.
bool is_unsigned_header(std::string_view lower_name);

// Step 1. `payload_hash` is the hex SHA-256 of the body or UNSIGNED-PAYLOAD.
// Includes every header of the request but the unsigned ones, plus host when
// absent (names lower-cased, values trimmed
// with inner runs of spaces folded, repeated headers joined with ',').
std::string canonical_request(const HttpRequest& request, const SigningParams& params, std::string_view payload_hash,
                              std::string* signed_headers_out = nullptr);
// Step 2.
std::string string_to_sign(std::string_view canonical_request, const SigningParams& params);
// Step 3 (raw bytes).
std::string signing_key(std::string_view secret_access_key, const SigningParams& params);
// Step 4 (hex).
std::string signature(std::string_view signing_key, std::string_view string_to_sign);

// The intermediate steps of one signing, for tests and the differential tool.
struct Trace {
  std::string canonical_request;
  std::string string_to_sign;
  std::string signature;
};

// Adds Host, X-Amz-Date, x-amz-content-sha256 (S3, or when payload is
// unsigned), X-Amz-Security-Token and Authorization headers to the request.
// Hashes the body (file bodies are read in blocks) unless the hash is given.
void sign(HttpRequest& request, const Credentials& credentials, const SigningParams& params, Trace* trace = nullptr);

// A presigned URL (query-string auth) valid for `expires` seconds (1..604800).
// The session token, if any, is a signed query parameter. The payload is
// UNSIGNED-PAYLOAD under S3 rules, else the body's hash (as botocore does).
// Throws std::invalid_argument when `expires` is out of range.
std::string presign(const HttpRequest& request, const Credentials& credentials, const SigningParams& params,
                    std::chrono::seconds expires, Trace* trace = nullptr);

}  // namespace hoist::aws::sigv4
