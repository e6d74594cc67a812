// The libcurl layer against tests/tools/fault_server.py: connection reuse,
// bodies streamed from and to files, transport errors and their retryability.
#include "aws/http.hpp"

#include <curl/curl.h>
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <sys/resource.h>

#include <array>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <optional>

#include "aws/crypto.hpp"
#include "support/fault_server.hpp"
#include "support/moto_server.hpp"

namespace hoist::aws {
namespace {

using test::FaultServer;
namespace fs = std::filesystem;

std::string pattern(std::uint64_t start, std::uint64_t end) {
  std::string out;
  out.reserve(end - start);
  for (std::uint64_t i = start; i < end; ++i) out += static_cast<char>(i % 251);
  return out;
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

// The hex of a finished digest.
std::string hex_of(EVP_MD_CTX* ctx) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx, digest.data(), &len);
  return hex({reinterpret_cast<const char*>(digest.data()), len});
}

long peak_rss_kib() {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;
}

class Http : public ::testing::Test {
 protected:
  void SetUp() override {
    server().reset();
    dir_ = fs::temp_directory_path() / ("hoist-http-test-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  static const FaultServer& server() { return FaultServer::instance(); }
  static HttpRequest request(const std::string& method, const std::string& path) {
    HttpRequest r;
    r.method = method;
    r.endpoint = server().endpoint();
    r.path = path;
    return r;
  }
  fs::path dir_;
};

TEST(FindHeader, IsCaseInsensitive) {
  const Headers headers = {{"Content-Type", "a"}, {"x-amz-request-id", "b"}};
  EXPECT_EQ(find_header(headers, "content-type"), "a");
  EXPECT_EQ(find_header(headers, "X-Amz-Request-Id"), "b");
  EXPECT_EQ(find_header(headers, "missing"), "");
}

TEST(CanRetry, DecidesInOnePlace) {
  for (CURLcode c : {CURLE_COULDNT_CONNECT, CURLE_OPERATION_TIMEDOUT, CURLE_RECV_ERROR, CURLE_SEND_ERROR,
                     CURLE_PARTIAL_FILE, CURLE_GOT_NOTHING, CURLE_COULDNT_RESOLVE_HOST})
    EXPECT_TRUE(can_retry(c)) << curl_easy_strerror(c);
  for (CURLcode c :
       {CURLE_URL_MALFORMAT, CURLE_UNSUPPORTED_PROTOCOL, CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CACERT_BADFILE,
        CURLE_SSL_CERTPROBLEM, CURLE_WRITE_ERROR, CURLE_READ_ERROR, CURLE_ABORTED_BY_CALLBACK})
    EXPECT_FALSE(can_retry(c)) << curl_easy_strerror(c);
  // An answer that is not HTTP: retryable once the request went out.
  EXPECT_TRUE(can_retry(CURLE_UNSUPPORTED_PROTOCOL, true));
  EXPECT_TRUE(can_retry(CURLE_WEIRD_SERVER_REPLY));
}

TEST_F(Http, GetReturnsStatusHeadersAndBody) {
  server().script("/hello", {{{"status", 200}, {"body", "hi there"}, {"headers", {{"X-Test", "yes"}}}}});
  HttpRequest r = request("GET", "/hello");
  r.query = {{"a", "b c"}, {"list-type", "2"}};
  const HttpResponse response = http_send(r, {});
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.body, "hi there");
  EXPECT_EQ(response.header("x-test"), "yes");
  const auto stats = server().stats("/hello");
  ASSERT_EQ(stats["count"], 1);
  EXPECT_EQ(stats["requests"][0]["query"], "a=b%20c&list-type=2");
  // No header curl invented that nobody asked for.
  EXPECT_FALSE(stats["requests"][0]["headers"].contains("accept"));
}

TEST_F(Http, ReusesTheConnection) {
  for (int i = 0; i < 3; ++i) EXPECT_EQ(http_send(request("GET", "/reuse"), {}).status, 200);
  const auto stats = server().stats("/reuse");
  ASSERT_EQ(stats["count"], 3);
  EXPECT_EQ(stats["requests"][0]["client_port"], stats["requests"][2]["client_port"]);
}

TEST_F(Http, EmptyPutAndPostSayContentLengthZeroWithoutExpect) {
  for (const char* method : {"PUT", "POST"}) {
    const HttpResponse response = http_send(request(method, "/empty"), {});
    EXPECT_EQ(response.status, 200) << method;
  }
  const auto stats = server().stats("/empty");
  ASSERT_EQ(stats["count"], 2);
  for (const auto& r : stats["requests"]) {
    EXPECT_EQ(r["headers"].value("content-length", "missing"), "0") << r["method"];
    EXPECT_FALSE(r["headers"].contains("expect"));
    EXPECT_FALSE(r["headers"].contains("content-type"));  // curl adds none of its own
  }
  EXPECT_EQ(stats["requests"][0]["method"], "PUT");
  EXPECT_EQ(stats["requests"][1]["method"], "POST");
}

TEST_F(Http, SendsMemoryBodiesAndHeadersAsGiven) {
  HttpRequest r = request("POST", "/form");
  r.headers = {{"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"}, {"X-Empty", ""}};
  r.body.data = "Action=DescribeInstances&Version=2016-11-15";
  EXPECT_EQ(http_send(r, {}).status, 200);
  const auto req = server().stats("/form")["requests"][0];
  EXPECT_EQ(req["body"], r.body.data);
  EXPECT_EQ(req["headers"]["content-type"], "application/x-www-form-urlencoded; charset=utf-8");
  EXPECT_EQ(req["headers"]["x-empty"], "");
  EXPECT_EQ(req["headers"]["content-length"], std::to_string(r.body.data.size()));
}

TEST_F(Http, DeleteAndHead) {
  server().script("/obj", {{{"status", 204}, {"body", ""}}, {{"status", 404}, {"code", "NoSuchKey"}}});
  EXPECT_EQ(http_send(request("DELETE", "/obj"), {}).status, 204);
  const HttpResponse head = http_send(request("HEAD", "/obj"), {});
  EXPECT_EQ(head.status, 404);
  EXPECT_EQ(head.body, "");  // HEAD: no body even though Content-Length says otherwise
  EXPECT_EQ(server().stats("/obj")["requests"][1]["method"], "HEAD");
}

// A 50 MB file body goes up in blocks: the server's hash matches and this
// process's peak memory does not grow by anything like the file's size.
TEST_F(Http, StreamsALargeFileBodyWithoutHoldingIt) {
  const fs::path file = dir_ / "big.bin";
  constexpr std::size_t kMiB = 1 << 20;
  constexpr std::size_t kSize = 50 * kMiB;
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
  {
    std::ofstream out(file, std::ios::binary);
    std::string block(kMiB, '\0');
    for (std::size_t b = 0; b < kSize / kMiB; ++b) {
      for (std::size_t i = 0; i < kMiB; ++i) block[i] = static_cast<char>((b * 31 + i * 7) & 0xff);
      out.write(block.data(), static_cast<std::streamsize>(block.size()));
      EVP_DigestUpdate(ctx, block.data(), block.size());
    }
  }
  const std::string hex = hex_of(ctx);
  EVP_MD_CTX_free(ctx);

  const long before = peak_rss_kib();
  HttpRequest r = request("PUT", "/upload");
  r.body.file = file.string();
  r.body.length = kSize;
  const HttpResponse response = http_send(r, {});
  const long after = peak_rss_kib();
  ASSERT_EQ(response.status, 200);
  const auto body = nlohmann::json::parse(response.body);
  EXPECT_EQ(body["length"], kSize);
  EXPECT_EQ(body["sha256"], hex);
  EXPECT_LT(after - before, 16 * 1024) << "peak RSS grew by " << (after - before) << " KiB";
}

TEST_F(Http, StreamsAByteRangeOfAFile) {
  const fs::path file = dir_ / "range.bin";
  std::ofstream(file, std::ios::binary) << pattern(0, 10000);
  HttpRequest r = request("PUT", "/part");
  r.body.file = file.string();
  r.body.offset = 1000;
  r.body.length = 3000;
  http_send(r, {});
  const auto req = server().stats("/part")["requests"][0];
  EXPECT_EQ(req["length"], 3000);
  EXPECT_EQ(req["sha256"], sha256_hex(pattern(1000, 4000)));
  EXPECT_EQ(req["headers"]["content-length"], "3000");
}

TEST_F(Http, MissingBodyFileIsALocalError) {
  HttpRequest r = request("PUT", "/part");
  r.body.file = (dir_ / "missing").string();
  r.body.length = 10;
  EXPECT_THROW(http_send(r, {}), std::runtime_error);
  EXPECT_EQ(server().stats("/part")["count"], 0);
}

TEST_F(Http, WritesA2xxBodyIntoAFileRangeWithoutTruncating) {
  const fs::path file = dir_ / "out.bin";
  std::ofstream(file, std::ios::binary) << std::string(1000, 'x');
  server().script("/obj", {{{"bytes", 1000}}});
  HttpRequest r = request("GET", "/obj");
  r.headers = {{"Range", "bytes=100-299"}};
  r.response_file = file.string();
  r.response_offset = 100;
  const HttpResponse response = http_send(r, {});
  EXPECT_EQ(response.status, 206);
  EXPECT_EQ(response.body, "");
  const std::string content = read_file(file);
  ASSERT_EQ(content.size(), 1000u);
  EXPECT_EQ(content.substr(0, 100), std::string(100, 'x'));
  EXPECT_EQ(content.substr(100, 200), pattern(100, 300));
  EXPECT_EQ(content.substr(300), std::string(700, 'x'));
}

TEST_F(Http, ErrorBodiesGoToMemoryNotTheFile) {
  const fs::path file = dir_ / "untouched.bin";
  server().script("/obj", {{{"status", 403}, {"code", "AccessDenied"}, {"message", "no"}}});
  HttpRequest r = request("GET", "/obj");
  r.response_file = file.string();
  const HttpResponse response = http_send(r, {});
  EXPECT_EQ(response.status, 403);
  EXPECT_NE(response.body.find("<Code>AccessDenied</Code>"), std::string::npos);
  EXPECT_FALSE(fs::exists(file));
}

TEST_F(Http, ParallelRangesFillOneFile) {
  const fs::path file = dir_ / "parallel.bin";
  constexpr std::uint64_t kPart = std::uint64_t{256} * 1024;
  constexpr std::size_t kParts = 8;
  nlohmann::json actions = nlohmann::json::array();
  for (std::size_t i = 0; i < kParts; ++i) actions.push_back({{"bytes", kPart * kParts}});
  server().script("/big", actions);
  std::atomic<int> done{0};
  parallel_for(kParts, 4, [&](std::size_t i) {
    HttpRequest r = request("GET", "/big");
    r.headers = {{"Range", "bytes=" + std::to_string(i * kPart) + "-" + std::to_string((i + 1) * kPart - 1)}};
    r.response_file = file.string();
    r.response_offset = i * kPart;
    if (http_send(r, {}).status == 206) ++done;
  });
  EXPECT_EQ(done, static_cast<int>(kParts));
  EXPECT_TRUE(read_file(file) == pattern(0, kPart * kParts));
}

TEST(ParallelFor, RunsEveryIndexAndRethrowsTheFirstError) {
  std::vector<std::atomic<int>> seen(100);
  parallel_for(100, 4, [&](std::size_t i) { ++seen[i]; });
  for (auto& s : seen) EXPECT_EQ(s, 1);
  EXPECT_THROW(parallel_for(10, 3,
                            [](std::size_t i) {
                              if (i == 5) throw std::logic_error("five");
                            }),
               std::logic_error);
  parallel_for(0, 4, [](std::size_t) { FAIL(); });
}

// curl itself re-sends once when a reused connection dies before any answer
// (rewinding the body with seek_body), so a "before" reset is scripted twice.
TEST_F(Http, ResetsAreRetryableTransportErrors) {
  const std::vector<nlohmann::json> scripts = {
      {{{"reset", "before"}}, {{"reset", "before"}}},
      {{{"reset", "mid"}, {"bytes", 100000}}},
  };
  for (const auto& actions : scripts) {
    server().script("/flaky", actions);
    HttpRequest r = request("PUT", "/flaky");
    r.body.data = "payload";
    try {
      http_send(r, {});
      FAIL() << "no error for " << actions.dump();
    } catch (const TransportError& e) {
      EXPECT_TRUE(e.retryable) << e.what();
      EXPECT_NE(std::string(e.what()).find("/flaky"), std::string::npos);
    }
  }
  EXPECT_EQ(http_send(request("GET", "/flaky"), {}).status, 200);  // a fresh connection after the reset
  const auto requests = server().stats("/flaky")["requests"];
  for (const auto& req : requests) {
    if (req["method"] == "PUT") {
      EXPECT_EQ(req["body"], "payload");  // rewound, not half-sent
    }
  }
}

// A proxy or a broken connection can answer with bytes that are not HTTP
// ("Received HTTP/0.9 when not allowed"): a reset by another name.
TEST_F(Http, AnAnswerThatIsNotHttpIsRetryableOnANewConnection) {
  EXPECT_EQ(http_send(request("GET", "/warm"), {}).status, 200);
  server().script("/garbage", {{{"raw", "SSH-2.0-OpenSSH_9.2\r\nnot http at all\r\n\r\n"}}});
  try {
    http_send(request("GET", "/garbage"), {});
    FAIL() << "a reply without a status line was accepted";
  } catch (const TransportError& e) {
    EXPECT_TRUE(e.curl_code == CURLE_UNSUPPORTED_PROTOCOL || e.curl_code == CURLE_WEIRD_SERVER_REPLY) << e.what();
    EXPECT_TRUE(e.retryable) << e.what();
    EXPECT_FALSE(e.unreachable);
  }
  EXPECT_EQ(http_send(request("GET", "/garbage"), {}).status, 200);
  const auto warm = server().stats("/warm")["requests"];
  const auto tries = server().stats("/garbage")["requests"];
  ASSERT_EQ(tries.size(), 2u);
  EXPECT_EQ(tries[0]["client_port"], warm.back()["client_port"]);  // the garbage came on a reused connection
  EXPECT_NE(tries[1]["client_port"], tries[0]["client_port"]);     // the retry on a new one
}

TEST_F(Http, MidResponseResetOfAFileDownloadIsRewrittenAtTheSameOffset) {
  const fs::path file = dir_ / "retry.bin";
  server().script("/obj", {{{"reset", "mid"}, {"bytes", 50000}}, {{"bytes", 50000}}});
  HttpRequest r = request("GET", "/obj");
  r.response_file = file.string();
  r.response_offset = 10;
  EXPECT_THROW(http_send(r, {}), TransportError);
  EXPECT_EQ(http_send(r, {}).status, 200);
  const std::string content = read_file(file);
  ASSERT_EQ(content.size(), 50010u);
  EXPECT_TRUE(content.substr(10) == pattern(0, 50000));
}

// curl averages speed over the last few seconds, so the stalled body is kept
// small enough for the average to fall below the limit at once.
TEST_F(Http, SlowAndStalledResponsesTimeOut) {
  server().script("/slow", {{{"stall", 5}, {"bytes", 2000}}, {{"delay", 5}}});
  HttpOptions options;
  options.low_speed_bytes = 1000;
  options.low_speed_time = std::chrono::seconds(1);
  for (int i = 0; i < 2; ++i) {
    const auto start = std::chrono::steady_clock::now();
    std::optional<TransportError> error;
    try {
      http_send(request("GET", "/slow"), options);
    } catch (const TransportError& e) {
      error = e;
    }
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(4));
    ASSERT_TRUE(error) << "a slow response was accepted: " << i;
    EXPECT_EQ(error->curl_code, CURLE_OPERATION_TIMEDOUT);
    EXPECT_TRUE(error->retryable);
  }
}

TEST(HttpErrors, ConnectionRefusedIsRetryable) {
  HttpRequest r;
  r.endpoint = "http://127.0.0.1:" + std::to_string(test::free_port());
  try {
    http_send(r, {});
    FAIL();
  } catch (const TransportError& e) {
    EXPECT_EQ(e.curl_code, CURLE_COULDNT_CONNECT);
    EXPECT_TRUE(e.retryable);
  }
}

TEST(HttpErrors, BadSchemeIsNotRetryable) {
  HttpRequest r;
  r.endpoint = "htp://127.0.0.1:1";
  try {
    http_send(r, {});
    FAIL();
  } catch (const TransportError& e) {
    EXPECT_EQ(e.curl_code, CURLE_UNSUPPORTED_PROTOCOL);  // as HTTP/0.9, but nothing was sent
    EXPECT_FALSE(e.retryable) << e.what();
  }
}

}  // namespace
}  // namespace hoist::aws
