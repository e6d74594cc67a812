// SigV4: the data-driven cases of tests/data/sigv4 (aws-c-auth's folder
// format, expected files made by botocore), each step checked on its own,
// plus the properties the rest of hoist relies on.
#include "aws/sigv4.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <nlohmann/json.hpp>
#include <sstream>

#include "aws/crypto.hpp"

namespace hoist::aws::sigv4 {
namespace {

namespace fs = std::filesystem;
using Pairs = std::vector<std::pair<std::string, std::string>>;

std::string read(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string percent_decode(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      out += static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

Pairs parse_query(std::string_view query) {
  Pairs out;
  while (!query.empty()) {
    const std::size_t amp = query.find('&');
    std::string_view item = query.substr(0, amp);
    const std::size_t eq = item.find('=');
    out.emplace_back(percent_decode(item.substr(0, eq)),
                     eq == std::string_view::npos ? "" : percent_decode(item.substr(eq + 1)));
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
  }
  return out;
}

// request.txt: "METHOD TARGET HTTP/1.1", "Name:value" lines, a blank line, the body.
HttpRequest parse_request(const std::string& text) {
  HttpRequest request;
  const std::size_t blank = text.find("\n\n");
  std::istringstream head(text.substr(0, blank));
  request.body.data = blank == std::string::npos ? "" : text.substr(blank + 2);
  std::string line;
  std::getline(head, line);
  const std::size_t space = line.find(' ');
  request.method = line.substr(0, space);
  std::string target = line.substr(space + 1, line.size() - space - 1 - std::string(" HTTP/1.1").size());
  const std::size_t question = target.find('?');
  request.path = target.substr(0, question);
  if (question != std::string::npos) request.query = parse_query(target.substr(question + 1));
  while (std::getline(head, line)) {
    if (line.empty()) continue;
    const std::size_t colon = line.find(':');
    request.headers.emplace_back(line.substr(0, colon), line.substr(colon + 1));
  }
  request.endpoint = "https://" + find_header(request.headers, "Host");
  return request;
}

struct Case {
  HttpRequest request;
  Credentials credentials;
  SigningParams params;
  std::chrono::seconds expires{};
};

Case load_case(const fs::path& dir) {
  Case c;
  c.request = parse_request(read(dir / "request.txt"));
  const auto context = nlohmann::json::parse(read(dir / "context.json"));
  c.credentials.access_key_id = context["credentials"]["access_key_id"];
  c.credentials.secret_access_key = context["credentials"]["secret_access_key"];
  c.credentials.session_token = context["credentials"].value("session_token", "");
  c.params.region = context["region"];
  c.params.service = context["service"];
  c.params.s3_rules = context["s3_rules"];
  c.params.unsigned_payload = context["unsigned_payload"];
  std::tm tm{};
  std::istringstream(context["timestamp"].get<std::string>()) >> std::get_time(&tm, "%Y-%m-%dT%H:%M:%SZ");
  c.params.time = std::chrono::system_clock::from_time_t(timegm(&tm));
  c.expires = std::chrono::seconds(context["expiration_in_seconds"].get<int>());
  return c;
}

std::vector<fs::path> case_dirs() {
  std::vector<fs::path> out;
  for (const auto& entry : fs::directory_iterator(fs::path(HOIST_TEST_DATA) / "sigv4")) {
    if (entry.is_directory()) out.push_back(entry.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

class SigV4Suite : public ::testing::TestWithParam<fs::path> {};

TEST_P(SigV4Suite, HeaderSigningStepByStep) {
  const fs::path dir = GetParam();
  Case c = load_case(dir);
  const std::string expected_cr = read(dir / "header-canonical-request.txt");
  const std::string expected_sts = read(dir / "header-string-to-sign.txt");
  const std::string expected_sig = read(dir / "header-signature.txt");

  // Each step alone, from the expected output of the step before.
  EXPECT_EQ(string_to_sign(expected_cr, c.params), expected_sts);
  EXPECT_EQ(signature(signing_key(c.credentials.secret_access_key, c.params), expected_sts), expected_sig);

  HttpRequest signed_request = c.request;
  Trace trace;
  sign(signed_request, c.credentials, c.params, &trace);
  EXPECT_EQ(trace.canonical_request, expected_cr);
  EXPECT_EQ(trace.string_to_sign, expected_sts);
  EXPECT_EQ(trace.signature, expected_sig);

  // Every header botocore sent is sent by hoist with the same value.
  const HttpRequest expected = parse_request(read(dir / "header-signed-request.txt"));
  for (const auto& [name, value] : expected.headers) {
    EXPECT_EQ(find_header(signed_request.headers, name), find_header(expected.headers, name)) << name;
  }
}

TEST_P(SigV4Suite, PresignStepByStep) {
  const fs::path dir = GetParam();
  if (!fs::exists(dir / "query-signature.txt")) GTEST_SKIP() << "botocore cannot presign repeated query keys";
  Case c = load_case(dir);
  c.request.body = Body{};  // a presigned URL carries no body
  const std::string expected_cr = read(dir / "query-canonical-request.txt");
  const std::string expected_sts = read(dir / "query-string-to-sign.txt");
  const std::string expected_sig = read(dir / "query-signature.txt");
  EXPECT_EQ(string_to_sign(expected_cr, c.params), expected_sts);
  EXPECT_EQ(signature(signing_key(c.credentials.secret_access_key, c.params), expected_sts), expected_sig);

  Trace trace;
  const std::string url = presign(c.request, c.credentials, c.params, c.expires, &trace);
  EXPECT_EQ(trace.canonical_request, expected_cr);
  EXPECT_EQ(trace.string_to_sign, expected_sts);
  EXPECT_EQ(trace.signature, expected_sig);

  // Same parameters as botocore's URL (botocore does not sort them).
  const HttpRequest expected = parse_request(read(dir / "query-signed-request.txt"));
  Pairs got = parse_query(url.substr(url.find('?') + 1));
  Pairs want = expected.query;
  std::sort(got.begin(), got.end());
  std::sort(want.begin(), want.end());
  EXPECT_EQ(got, want);
  EXPECT_EQ(url.substr(0, url.find('?')), expected.endpoint + expected.path);
}

INSTANTIATE_TEST_SUITE_P(Cases, SigV4Suite, ::testing::ValuesIn(case_dirs()), [](const auto& test_info) {
  std::string name = test_info.param.filename().string();
  std::replace(name.begin(), name.end(), '-', '_');
  return name;
});

TEST(SigV4, SuiteHasTheClassicCases) {
  EXPECT_GE(case_dirs().size(), 12u);
  // The well-known signature of the AWS suite's get-vanilla.
  EXPECT_EQ(read(fs::path(HOIST_TEST_DATA) / "sigv4/get-vanilla/header-signature.txt"),
            "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
}

TEST(SigV4, UriEncode) {
  EXPECT_EQ(uri_encode("a b/c~d_e.f-g", true), "a%20b/c~d_e.f-g");
  EXPECT_EQ(uri_encode("a b/c", false), "a%20b%2Fc");
  EXPECT_EQ(uri_encode("+=&%\xc3\xa9", false), "%2B%3D%26%25%C3%A9");
}

TEST(SigV4, CanonicalUri) {
  EXPECT_EQ(canonical_uri("/a//b/./c/../d%20", true), "/a//b/./c/../d%20");
  EXPECT_EQ(canonical_uri("/a//b/./c/../d%20", false), "/a/b/d%2520");
  EXPECT_EQ(canonical_uri("/a/..", false), "/");
  EXPECT_EQ(canonical_uri("", false), "/");
  EXPECT_EQ(canonical_uri("//x//", false), "/x/");
}

TEST(SigV4, UrlSendsTheCanonicalQuery) {
  HttpRequest r;
  r.endpoint = "https://Bucket.S3.Amazonaws.com:443";
  r.path = "/k%20ey";
  r.query = {{"b", "2 +"}, {"a", ""}, {"b", "1"}};
  EXPECT_EQ(r.url(), "https://Bucket.S3.Amazonaws.com:443/k%20ey?a=&b=1&b=2%20%2B");
  EXPECT_EQ(r.host(), "bucket.s3.amazonaws.com");
  r.endpoint = "http://127.0.0.1:5000";
  EXPECT_EQ(r.host(), "127.0.0.1:5000");
  r.endpoint = "http://[::1]:80";
  EXPECT_EQ(r.host(), "[::1]");
  r.query.clear();
  r.path = "";
  EXPECT_EQ(r.url(), "http://[::1]:80/");
}

TEST(SigV4, DateFormats) {
  const auto t = std::chrono::system_clock::from_time_t(1440938160);  // 2015-08-30T12:36:00Z
  EXPECT_EQ(amz_date(t), "20150830T123600Z");
  EXPECT_EQ(date_stamp(t), "20150830");
}

SigningParams s3_params() {
  SigningParams p;
  p.region = "us-east-1";
  p.service = "s3";
  p.s3_rules = true;
  p.time = std::chrono::system_clock::from_time_t(1440938160);
  return p;
}

TEST(SigV4, SignHashesFileBodiesAndHonoursGivenHashes) {
  const std::string path = (fs::temp_directory_path() / ("hoist_sigv4_body_" + std::to_string(::getpid()))).string();
  std::ofstream(path, std::ios::binary) << "0123456789abcdef";
  Credentials creds{"AKID", "SECRET", "", std::nullopt, "test"};

  HttpRequest file_request;
  file_request.method = "PUT";
  file_request.endpoint = "http://127.0.0.1:9000";
  file_request.path = "/b/k";
  file_request.body.file = path;
  file_request.body.offset = 4;
  file_request.body.length = 6;
  sign(file_request, creds, s3_params());
  EXPECT_EQ(find_header(file_request.headers, "x-amz-content-sha256"), sha256_hex("456789"));
  EXPECT_EQ(find_header(file_request.headers, "host"), "127.0.0.1:9000");

  HttpRequest memory_request = file_request;
  memory_request.headers.clear();
  memory_request.body = Body{};
  memory_request.body.data = "456789";
  sign(memory_request, creds, s3_params());
  EXPECT_EQ(find_header(memory_request.headers, "authorization"), find_header(file_request.headers, "authorization"));

  SigningParams given = s3_params();
  given.payload_hash = std::string(64, 'a');
  HttpRequest given_request = file_request;
  given_request.headers.clear();
  sign(given_request, creds, given);
  EXPECT_EQ(find_header(given_request.headers, "x-amz-content-sha256"), given.payload_hash);

  SigningParams unsigned_params = s3_params();
  unsigned_params.unsigned_payload = true;
  HttpRequest unsigned_request = file_request;
  unsigned_request.headers.clear();
  unsigned_request.body.file = "/nonexistent/never/read";
  sign(unsigned_request, creds, unsigned_params);  // the file is not even opened
  EXPECT_EQ(find_header(unsigned_request.headers, "x-amz-content-sha256"), kUnsignedPayload);
  fs::remove(path);
}

TEST(SigV4, ResigningReplacesOldAuthHeaders) {
  Credentials creds{"AKID", "SECRET", "TOKEN", std::nullopt, "test"};
  HttpRequest r;
  r.endpoint = "https://s3.amazonaws.com";
  r.path = "/b/k";
  sign(r, creds, s3_params());
  const Headers first = r.headers;
  sign(r, creds, s3_params());
  EXPECT_EQ(r.headers.size(), first.size());
  EXPECT_EQ(find_header(r.headers, "Authorization"), find_header(first, "Authorization"));
  EXPECT_EQ(find_header(r.headers, "X-Amz-Security-Token"), "TOKEN");
}

TEST(SigV4, PresignRejectsBadExpiry) {
  Credentials creds{"AKID", "SECRET", "", std::nullopt, "test"};
  HttpRequest r;
  r.endpoint = "https://s3.amazonaws.com";
  EXPECT_THROW(presign(r, creds, s3_params(), std::chrono::seconds(0)), std::invalid_argument);
  EXPECT_THROW(presign(r, creds, s3_params(), std::chrono::seconds(604801)), std::invalid_argument);
  EXPECT_NO_THROW(presign(r, creds, s3_params(), std::chrono::seconds(604800)));
}

}  // namespace
}  // namespace hoist::aws::sigv4
