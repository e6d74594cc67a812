// SigV4, matching botocore's SigV4Auth / S3SigV4Auth / SigV4QueryAuth /
// S3SigV4QueryAuth byte for byte (tests/e2e/test_sigv4_botocore.py checks).
#include "aws/sigv4.hpp"

#include <algorithm>
#include <array>
#include <ctime>
#include <map>
#include <stdexcept>

#include "aws/crypto.hpp"
#include "util/text.hpp"

namespace hoist::aws::sigv4 {
namespace {

constexpr std::string_view kAlgorithm = "AWS4-HMAC-SHA256";
// sha256("") — the payload hash of an empty body.
constexpr std::string_view kEmptySha256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

bool iequals(std::string_view a, std::string_view b) {
  return ascii_lower(a) == ascii_lower(b);
}

// The ASCII characters Python's str.split() treats as whitespace.
bool is_space(char c) {
  return c == ' ' || (c >= '\t' && c <= '\r') || (c >= '\x1c' && c <= '\x1f');
}

// botocore's _header_value: ' '.join(value.split()).
std::string trim_all(std::string_view value) {
  std::string out;
  std::size_t i = 0;
  while (i < value.size()) {
    while (i < value.size() && is_space(value[i])) ++i;
    if (i == value.size()) break;
    if (!out.empty()) out += ' ';
    while (i < value.size() && !is_space(value[i])) out += value[i++];
  }
  return out;
}

void remove_header(Headers& headers, std::string_view name) {
  std::erase_if(headers, [&](const auto& h) { return iequals(h.first, name); });
}

void set_header(Headers& headers, const std::string& name, const std::string& value) {
  remove_header(headers, name);
  headers.emplace_back(name, value);
}

bool has_header(const Headers& headers, std::string_view name) {
  return std::any_of(headers.begin(), headers.end(), [&](const auto& h) { return iequals(h.first, name); });
}

// RFC 3986 section 5.2.4, on the encoded path; empty segments are dropped
// too because AWS services require it (botocore's remove_dot_segments).
std::string remove_dot_segments(std::string_view path) {
  if (path.empty()) return "/";
  std::vector<std::string_view> out;
  std::size_t start = 0;
  while (start <= path.size()) {
    std::size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    std::string_view segment = path.substr(start, end - start);
    if (segment == "..") {
      if (!out.empty()) out.pop_back();
    } else if (!segment.empty() && segment != ".") {
      out.push_back(segment);
    }
    start = end + 1;
  }
  std::string result = path.front() == '/' ? "/" : "";
  for (std::size_t i = 0; i < out.size(); ++i) {
    if (i > 0) result += '/';
    result += out[i];
  }
  if (path.back() == '/' && !out.empty()) result += '/';
  return result;
}

std::string credential_scope(const SigningParams& params) {
  return date_stamp(params.time) + "/" + params.region + "/" + params.service + "/aws4_request";
}

std::string body_hash(const Body& body) {
  if (body.from_file()) return sha256_file(body.file, body.offset, body.length);
  if (body.data.empty()) return std::string(kEmptySha256);
  return sha256_hex(body.data);
}

// The payload hash botocore would use when no x-amz-content-sha256 header
// overrides it.
std::string payload_hash_for(const HttpRequest& request, const SigningParams& params) {
  if (params.unsigned_payload) return std::string(kUnsignedPayload);
  if (!params.payload_hash.empty()) return params.payload_hash;
  return body_hash(request.body);
}

// Host and the rest of the signable headers, lower-cased and grouped by name.
std::map<std::string, std::vector<std::string>> headers_to_sign(const HttpRequest& request) {
  std::map<std::string, std::vector<std::string>> out;
  for (const auto& [name, value] : request.headers) {
    std::string key = ascii_lower(name);
    if (!is_unsigned_header(key)) out[key].push_back(value);
  }
  if (!out.contains("host")) out["host"].push_back(request.host());
  return out;
}

Trace run_steps(const HttpRequest& request, const Credentials& credentials, const SigningParams& params,
                std::string_view payload_hash, std::string* signed_headers) {
  Trace trace;
  trace.canonical_request = canonical_request(request, params, payload_hash, signed_headers);
  trace.string_to_sign = string_to_sign(trace.canonical_request, params);
  // The derived key changes once a day (and with region or service): keep the
  // last one per thread, as the AWS SDKs do, instead of four HMACs a request.
  struct CachedKey {
    std::string secret, date, region, service, key;
  };
  thread_local CachedKey cached;
  const std::string date = date_stamp(params.time);
  if (cached.key.empty() || cached.secret != credentials.secret_access_key || cached.date != date ||
      cached.region != params.region || cached.service != params.service) {
    cached = {credentials.secret_access_key, date, params.region, params.service,
              signing_key(credentials.secret_access_key, params)};
  }
  trace.signature = signature(cached.key, trace.string_to_sign);
  return trace;
}

}  // namespace

bool is_unsigned_header(std::string_view lower_name) {
  // botocore's SIGNED_HEADERS_BLACKLIST.
  static constexpr std::array<std::string_view, 11> kBlacklist = {
      "connection",        "expect",  "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
      "transfer-encoding", "upgrade", "user-agent", "x-amzn-trace-id"};
  return std::find(kBlacklist.begin(), kBlacklist.end(), lower_name) != kBlacklist.end();
}

std::string uri_encode(std::string_view s, bool keep_slash) {
  static constexpr std::string_view kHex = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size() * 3);
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    const bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
                            c == '_' || c == '.' || c == '~';
    if (unreserved || (keep_slash && c == '/')) {
      out += ch;
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    }
  }
  return out;
}

std::string canonical_query_string(const std::vector<std::pair<std::string, std::string>>& query) {
  std::vector<std::pair<std::string, std::string>> encoded;
  encoded.reserve(query.size());
  for (const auto& [key, value] : query) encoded.emplace_back(uri_encode(key, false), uri_encode(value, false));
  // Sorted by encoded key, then encoded value, as botocore does.
  std::sort(encoded.begin(), encoded.end());
  std::string out;
  for (const auto& [key, value] : encoded) {
    if (!out.empty()) out += '&';
    out += key;
    out += '=';
    out += value;
  }
  return out;
}

std::string canonical_uri(std::string_view path, bool s3_rules) {
  if (path.empty()) return "/";
  if (s3_rules) return std::string(path);
  return uri_encode(remove_dot_segments(path), true);
}

std::string amz_date(std::chrono::system_clock::time_point t) {
  return format_utc(t, "%Y%m%dT%H%M%SZ");
}
std::string date_stamp(std::chrono::system_clock::time_point t) {
  return format_utc(t, "%Y%m%d");
}

std::string canonical_request(const HttpRequest& request, const SigningParams& params, std::string_view payload_hash,
                              std::string* signed_headers_out) {
  std::string method = request.method;
  for (char& c : method) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  std::string out = method + "\n";
  out += canonical_uri(request.path, params.s3_rules) + "\n";
  out += canonical_query_string(request.query) + "\n";
  std::string signed_headers;
  for (const auto& [name, values] : headers_to_sign(request)) {
    out += name + ":";
    for (std::size_t i = 0; i < values.size(); ++i) {
      if (i > 0) out += ',';
      out += trim_all(values[i]);
    }
    out += '\n';
    if (!signed_headers.empty()) signed_headers += ';';
    signed_headers += name;
  }
  out += "\n" + signed_headers + "\n";
  out += payload_hash;
  if (signed_headers_out != nullptr) *signed_headers_out = signed_headers;
  return out;
}

std::string string_to_sign(std::string_view canonical_request, const SigningParams& params) {
  return std::string(kAlgorithm) + "\n" + amz_date(params.time) + "\n" + credential_scope(params) + "\n" +
         sha256_hex(canonical_request);
}

std::string signing_key(std::string_view secret_access_key, const SigningParams& params) {
  // kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request")
  std::string key = hmac_sha256("AWS4" + std::string(secret_access_key), date_stamp(params.time));
  key = hmac_sha256(key, params.region);
  key = hmac_sha256(key, params.service);
  return hmac_sha256(key, "aws4_request");
}

std::string signature(std::string_view signing_key, std::string_view string_to_sign) {
  return hex(hmac_sha256(signing_key, string_to_sign));
}

void sign(HttpRequest& request, const Credentials& credentials, const SigningParams& params, Trace* trace) {
  remove_header(request.headers, "Authorization");
  set_header(request.headers, "X-Amz-Date", amz_date(params.time));
  if (!credentials.session_token.empty()) {
    set_header(request.headers, "X-Amz-Security-Token", credentials.session_token);
  }
  if (!has_header(request.headers, "Host")) request.headers.emplace_back("Host", request.host());

  std::string payload_hash;
  if (params.s3_rules || params.unsigned_payload) {
    payload_hash = payload_hash_for(request, params);
    set_header(request.headers, "X-Amz-Content-SHA256", payload_hash);
  } else if (has_header(request.headers, "X-Amz-Content-SHA256")) {
    // botocore signs a hash the caller already put in the header.
    payload_hash = find_header(request.headers, "X-Amz-Content-SHA256");
  } else {
    payload_hash = payload_hash_for(request, params);
  }

  std::string signed_headers;
  Trace steps = run_steps(request, credentials, params, payload_hash, &signed_headers);
  request.headers.emplace_back("Authorization", std::string(kAlgorithm) + " Credential=" + credentials.access_key_id +
                                                    "/" + credential_scope(params) + ", SignedHeaders=" +
                                                    signed_headers + ", Signature=" + steps.signature);
  if (trace != nullptr) *trace = std::move(steps);
}

std::string presign(const HttpRequest& request, const Credentials& credentials, const SigningParams& params,
                    std::chrono::seconds expires, Trace* trace) {
  if (expires.count() < 1 || expires.count() > 604800) {
    throw std::invalid_argument("a presigned URL must expire in 1 to 604800 seconds (7 days)");
  }
  HttpRequest signable = request;
  signable.body = Body{};  // never copy a body just to sign a URL
  std::string signed_headers;
  for (const auto& entry : headers_to_sign(request)) {
    if (!signed_headers.empty()) signed_headers += ';';
    signed_headers += entry.first;
  }
  auto& q = signable.query;
  q.emplace_back("X-Amz-Algorithm", std::string(kAlgorithm));
  q.emplace_back("X-Amz-Credential", credentials.access_key_id + "/" + credential_scope(params));
  q.emplace_back("X-Amz-Date", amz_date(params.time));
  q.emplace_back("X-Amz-Expires", std::to_string(expires.count()));
  q.emplace_back("X-Amz-SignedHeaders", signed_headers);
  // Part of the signed query, for S3 and every other service (as botocore does).
  if (!credentials.session_token.empty()) q.emplace_back("X-Amz-Security-Token", credentials.session_token);

  std::string payload_hash;
  if (has_header(request.headers, "X-Amz-Content-SHA256")) {
    payload_hash = find_header(request.headers, "X-Amz-Content-SHA256");
  } else if (params.s3_rules) {
    payload_hash = std::string(kUnsignedPayload);  // the payload is unknown when the URL is made
  } else {
    payload_hash = payload_hash_for(request, params);
  }

  Trace steps = run_steps(signable, credentials, params, payload_hash, nullptr);
  std::string url = signable.url() + "&X-Amz-Signature=" + steps.signature;
  if (trace != nullptr) *trace = std::move(steps);
  return url;
}

}  // namespace hoist::aws::sigv4
