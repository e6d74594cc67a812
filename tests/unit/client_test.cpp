// Client::send and the protocols against tests/tools/fault_server.py: which
// failures are retried, how often, after what delay, within what budget, and
// what the user finally sees.
#include "aws/client.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "aws/error.hpp"
#include "aws/protocols.hpp"
#include "aws/s3.hpp"
#include "job/staging.hpp"
#include "support/fault_server.hpp"
#include "support/moto_server.hpp"
#include "util/log.hpp"
#include "util/text.hpp"

namespace hoist::aws {
namespace {

using std::chrono::milliseconds;
using test::FaultServer;

constexpr const char* kSecret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

// Fixed test keys; counts fetches so a refresh after ExpiredToken shows.
class FixedCredentials : public CredentialProvider {
 public:
  std::atomic<int> fetches{0};

 protected:
  Credentials fetch() override {
    ++fetches;
    return {"AKIDEXAMPLE", kSecret, "", std::nullopt, "test"};
  }
};

const Service kEc2{"ec2", "ec2", Protocol::query, "2016-11-15"};
const Service kIam{"iam", "iam", Protocol::query, "2010-05-08", true};
const Service kSsm{"ssm", "ssm", Protocol::json, "AmazonSSM"};
const Service kS3{"s3", "s3", Protocol::rest_xml, ""};

class ClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server().reset();
    credentials_ = std::make_shared<FixedCredentials>();
    session_ = make_session({});
  }

  std::shared_ptr<Session> make_session(RetryPolicy::Options options) {
    auto session = std::make_shared<Session>();
    session->config.overrides.endpoint_url = server().endpoint();
    session->region = "eu-west-1";
    session->credentials = credentials_;
    options.seed = 7;
    session->retry = std::make_shared<RetryPolicy>(options);
    session->retry->sleep = [this](milliseconds d) { delays_.push_back(d); };
    return session;
  }

  static const FaultServer& server() { return FaultServer::instance(); }
  static HttpRequest get(const std::string& path) {
    HttpRequest r;
    r.path = path;
    return r;
  }
  static int count(const std::string& path) { return server().stats(path)["count"]; }

  std::shared_ptr<FixedCredentials> credentials_;
  std::shared_ptr<Session> session_;
  std::vector<milliseconds> delays_;
};

// Sets environment variables for one test and puts the old values back.
class ScopedEnv {
 public:
  ScopedEnv(std::initializer_list<std::pair<const char*, const char*>> vars) {
    for (const auto& [name, value] : vars) {
      const char* old = std::getenv(name);
      saved_.emplace_back(name, old ? std::optional<std::string>(old) : std::nullopt);
      if (value != nullptr)
        ::setenv(name, value, 1);
      else
        ::unsetenv(name);
    }
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;
  ~ScopedEnv() {
    for (const auto& [name, value] : saved_) {
      if (value)
        ::setenv(name.c_str(), value->c_str(), 1);
      else
        ::unsetenv(name.c_str());
    }
  }

 private:
  std::vector<std::pair<std::string, std::optional<std::string>>> saved_;
};

TEST_F(ClientTest, SessionCreateReadsTheEnvironment) {
  ScopedEnv env({{"AWS_ACCESS_KEY_ID", "AKIDENV"},
                 {"AWS_SECRET_ACCESS_KEY", kSecret},
                 {"AWS_SESSION_TOKEN", nullptr},
                 {"AWS_PROFILE", nullptr},
                 {"AWS_REGION", "ap-south-1"},
                 {"AWS_CONFIG_FILE", "/dev/null"},
                 {"AWS_SHARED_CREDENTIALS_FILE", "/dev/null"},
                 {"AWS_EC2_METADATA_DISABLED", "true"},
                 {"AWS_MAX_ATTEMPTS", "5"},
                 {"AWS_CA_BUNDLE", "/etc/hoist-test-ca.pem"}});
  Overrides overrides;
  overrides.endpoint_url = server().endpoint();
  const auto session = Session::create(overrides);
  EXPECT_EQ(session->region, "ap-south-1");
  EXPECT_EQ(session->retry->max_attempts(), 5);
  EXPECT_EQ(session->http.ca_bundle, "/etc/hoist-test-ca.pem");
  EXPECT_EQ(session->credentials->get().access_key_id, "AKIDENV");
  EXPECT_EQ(Client(session, kEc2).endpoint(), server().endpoint());
  ScopedEnv bad({{"AWS_MAX_ATTEMPTS", "-1"}});
  EXPECT_THROW(Session::create(overrides), Failure);
}

TEST_F(ClientTest, SignsAndSendsToTheConfiguredEndpoint) {
  Client client(session_, kEc2);
  EXPECT_EQ(client.endpoint(), server().endpoint());
  EXPECT_EQ(client.send("Ping", get("/signed")).status, 200);
  const auto headers = server().stats("/signed")["requests"][0]["headers"];
  const std::string auth = headers["authorization"];
  EXPECT_TRUE(auth.starts_with("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")) << auth;
  EXPECT_NE(auth.find("/eu-west-1/ec2/aws4_request"), std::string::npos) << auth;
  EXPECT_TRUE(headers["user-agent"].get<std::string>().starts_with("hoist/"));
  EXPECT_TRUE(headers.contains("x-amz-date"));
  EXPECT_EQ(session_->retry->budget_left(), 500);
}

TEST_F(ClientTest, GlobalServicesSignForUsEast1) {
  Client client(session_, kIam);
  client.send("Ping", get("/global"));
  const std::string auth = server().stats("/global")["requests"][0]["headers"]["authorization"];
  EXPECT_NE(auth.find("/us-east-1/iam/aws4_request"), std::string::npos) << auth;
}

// China's and GovCloud's IAM sign for their own partition's region: a
// us-east-1 scope there is refused.
TEST_F(ClientTest, GlobalServicesSignForTheirPartitionsRegion) {
  for (const auto& [region, scope] :
       {std::pair{"cn-northwest-1", "/cn-north-1/iam/"}, std::pair{"us-gov-east-1", "/us-gov-west-1/iam/"}}) {
    server().reset();
    session_->region = region;
    Client client(session_, kIam);
    client.send("Ping", get("/global"));
    const std::string auth = server().stats("/global")["requests"][0]["headers"]["authorization"];
    EXPECT_NE(auth.find(scope), std::string::npos) << region << ": " << auth;
  }
}

TEST_F(ClientTest, S3SendsThePayloadHashHeader) {
  Client client(session_, kS3);
  HttpRequest r = get("/bucket/key");
  r.method = "PUT";
  r.body.data = "hello";
  client.send("PutObject", r);
  CallOptions unsigned_payload;
  unsigned_payload.unsigned_payload = true;
  client.send("PutObject", r, unsigned_payload);
  const auto requests = server().stats("/bucket/key")["requests"];
  EXPECT_EQ(requests[0]["headers"]["x-amz-content-sha256"],
            "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824");
  EXPECT_EQ(requests[1]["headers"]["x-amz-content-sha256"], "UNSIGNED-PAYLOAD");
}

namespace {
// Seconds from now to an X-Amz-Date (20261124T031500Z).
long seconds_ahead(const std::string& amz_date) {
  std::tm tm{};
  EXPECT_NE(::strptime(amz_date.c_str(), "%Y%m%dT%H%M%SZ", &tm), nullptr) << amz_date;
  return static_cast<long>(::timegm(&tm) - std::time(nullptr));
}
}  // namespace

// A laptop clock an hour slow: AWS refuses the request as signed too long
// ago; hoist takes AWS's time from the answer's Date, signs with it at once
// and keeps it for the session's later requests.
TEST_F(ClientTest, AClockFarFromAwssIsCorrectedFromTheAnswersDate) {
  const auto aws_now = std::chrono::system_clock::now() + std::chrono::hours(1);
  server().script("/skew", {{{"status", 403},
                             {"code", "RequestTimeTooSkewed"},
                             {"message", "The difference between the request time and the current time is too large."},
                             {"headers", {{"Date", format_utc(aws_now, "%a, %d %b %Y %H:%M:%S GMT")}}}}});
  Client client(session_, kS3);
  EXPECT_EQ(client.send("PutObject", get("/skew")).status, 200);
  EXPECT_EQ(client.send("PutObject", get("/skew")).status, 200);
  auto requests = server().stats("/skew")["requests"];
  ASSERT_EQ(requests.size(), 3u);  // one refused, then both signed with AWS's time
  EXPECT_LT(std::abs(seconds_ahead(requests[0]["headers"]["x-amz-date"])), 60);
  EXPECT_LT(std::abs(seconds_ahead(requests[1]["headers"]["x-amz-date"]) - 3600), 60);
  EXPECT_LT(std::abs(seconds_ahead(requests[2]["headers"]["x-amz-date"]) - 3600), 60);
  EXPECT_LT(std::abs(session_->clock_offset_ms.load() - 3'600'000), 60'000);
  EXPECT_TRUE(delays_.empty());  // no back-off: the clock, not AWS, was the trouble
}

// A signature refused for another reason, with the clocks agreeing, is not
// sent again.
TEST_F(ClientTest, ASignatureErrorWithTheClocksAgreeingIsNotRetried) {
  server().script("/badsig", {{{"status", 403},
                               {"code", "SignatureDoesNotMatch"},
                               {"message", "The request signature we calculated does not match"}}});
  Client client(session_, kS3);
  EXPECT_THROW(client.send("PutObject", get("/badsig")), AwsError);
  EXPECT_EQ(count("/badsig"), 1);
  EXPECT_EQ(session_->clock_offset_ms.load(), 0);
}

TEST_F(ClientTest, ThrottlingIsRetriedWithBackOffAndTheRetryAfterHint) {
  server().script("/t", {{{"status", 400}, {"code", "Throttling"}, {"format", "query"}},
                         {{"status", 503}, {"code", "SlowDown"}, {"headers", {{"Retry-After", "3"}}}}});
  Client client(session_, kEc2);
  EXPECT_EQ(client.send("DescribeInstances", get("/t")).status, 200);
  EXPECT_EQ(count("/t"), 3);
  ASSERT_EQ(delays_.size(), 2u);
  EXPECT_LE(delays_[0], milliseconds(1000));       // random(0,1) * 1 s
  EXPECT_EQ(delays_[1], milliseconds(3000));       // the hint beats a ceiling of 2 s
  EXPECT_EQ(session_->retry->budget_left(), 495);  // -5 -5, +5 on success after retry
}

TEST_F(ClientTest, ServerErrorsAreRetriedThenSucceed) {
  server().script("/5xx",
                  {{{"status", 500}, {"code", "InternalError"}}, {{"status", 503}, {"body", "<html>busy</html>"}}});
  Client client(session_, kS3);
  EXPECT_EQ(client.send("GetObject", get("/5xx")).status, 200);
  EXPECT_EQ(count("/5xx"), 3);
  EXPECT_EQ(delays_.size(), 2u);
  EXPECT_LE(delays_[1], milliseconds(2000));
}

TEST_F(ClientTest, AClientErrorIsNotRetried) {
  server().script("/bad", {{{"status", 400},
                            {"code", "InvalidParameterValue"},
                            {"message", "Value (x) for parameter instanceType is invalid."},
                            {"format", "ec2"},
                            {"request_id", "req-123"}}});
  Client client(session_, kEc2);
  try {
    client.send("RunInstances", get("/bad"));
    FAIL() << "no error";
  } catch (const AwsError& e) {
    EXPECT_EQ(e.service, "ec2");
    EXPECT_EQ(e.operation, "RunInstances");
    EXPECT_EQ(e.code, "InvalidParameterValue");
    EXPECT_EQ(e.aws_message, "Value (x) for parameter instanceType is invalid.");
    EXPECT_EQ(e.request_id, "req-123");
    EXPECT_EQ(e.http_status, 400);
    EXPECT_EQ(describe(e),
              "ec2 RunInstances failed: InvalidParameterValue: Value (x) for parameter instanceType is invalid. "
              "(HTTP 400, request id req-123).");
  }
  EXPECT_EQ(count("/bad"), 1);
  EXPECT_TRUE(delays_.empty());
}

TEST_F(ClientTest, GivesUpAfterMaxAttempts) {
  server().script("/down", nlohmann::json::array({{{"status", 503}, {"code", "ServiceUnavailable"}},
                                                  {{"status", 503}, {"code", "ServiceUnavailable"}},
                                                  {{"status", 503}, {"code", "ServiceUnavailable"}},
                                                  {{"status", 503}, {"code", "ServiceUnavailable"}}}));
  Client client(session_, kS3);
  try {
    client.send("GetObject", get("/down"));
    FAIL();
  } catch (const AwsError& e) {
    EXPECT_EQ(e.code, "ServiceUnavailable");
    EXPECT_EQ(e.http_status, 503);
  }
  EXPECT_EQ(count("/down"), 3);
  EXPECT_EQ(delays_.size(), 2u);
  EXPECT_EQ(session_->retry->budget_left(), 490);  // failures refund nothing
}

TEST_F(ClientTest, AnEmptyBudgetStopsRetries) {
  RetryPolicy::Options options;
  options.max_attempts = 10;
  options.budget = 12;  // two retries' worth
  session_ = make_session(options);
  nlohmann::json actions = nlohmann::json::array();
  for (int i = 0; i < 10; ++i) actions.push_back({{"status", 500}, {"code", "InternalError"}});
  server().script("/budget", actions);
  Client client(session_, kS3);
  EXPECT_THROW(client.send("GetObject", get("/budget")), AwsError);
  EXPECT_EQ(count("/budget"), 3);
  EXPECT_EQ(session_->retry->budget_left(), 2);
  // The next call gets no retry at all until successes refill the bucket.
  EXPECT_THROW(client.send("GetObject", get("/budget")), AwsError);
  EXPECT_EQ(count("/budget"), 4);
}

TEST_F(ClientTest, ConnectionRefusedBecomesNetworkErrorAfterMaxAttempts) {
  const std::string dead = "http://127.0.0.1:" + std::to_string(test::free_port());
  session_->config.overrides.endpoint_url = dead;
  Client client(session_, kEc2);
  try {
    client.send("DescribeInstances", get("/"));
    FAIL();
  } catch (const AwsError& e) {
    EXPECT_EQ(e.code, "NetworkError");
    EXPECT_EQ(e.http_status, 0);
    EXPECT_NE(e.aws_message.find(dead), std::string::npos) << e.aws_message;
    EXPECT_NE(e.aws_message.find("3 attempts"), std::string::npos) << e.aws_message;
    EXPECT_NE(describe(e).find("--endpoint-url"), std::string::npos);
  }
  EXPECT_EQ(delays_.size(), 2u);
  EXPECT_EQ(session_->retry->budget_left(), 480);  // connection errors cost 10
}

TEST_F(ClientTest, ResetsAndStallsAreRetried) {
  session_->http.low_speed_bytes = 1000;
  session_->http.low_speed_time = std::chrono::seconds(1);
  // (curl re-sends once by itself when a reused connection dies unanswered.)
  server().script("/r", {{{"reset", "before"}}, {{"reset", "before"}}, {{"stall", 3}, {"bytes", 2000}}});
  Client client(session_, kS3);
  EXPECT_EQ(client.send("GetObject", get("/r")).status, 200);
  EXPECT_EQ(count("/r"), 4);
  EXPECT_EQ(delays_.size(), 2u);
  EXPECT_EQ(session_->retry->budget_left(), 490);  // -10 -10 +10
}

TEST_F(ClientTest, AnAnswerThatIsNotHttpIsRetriedOnANewConnectionLikeAReset) {
  Client client(session_, kS3);
  EXPECT_EQ(client.send("HeadBucket", get("/warm")).status, 200);
  server().script("/h09", {{{"raw", "garbage, not HTTP\r\n\r\n"}}});
  EXPECT_EQ(client.send("GetObject", get("/h09")).status, 200);
  const auto tries = server().stats("/h09")["requests"];
  ASSERT_EQ(tries.size(), 2u);
  EXPECT_NE(tries[1]["client_port"], tries[0]["client_port"]);
  EXPECT_EQ(delays_.size(), 1u);
}

nlohmann::json throttles(int n) {
  nlohmann::json actions = nlohmann::json::array();
  for (int i = 0; i < n; ++i)
    actions.push_back(i % 3 == 2 ? nlohmann::json{{"status", 503}, {"body", ""}}  // S3's overload without a code
                                 : nlohmann::json{{"status", 503}, {"code", "SlowDown"}, {"message", "Please reduce"}});
  return actions;
}

// The issue's case: one part meets a streak of throttles while the rest of
// the upload gets through. Three attempts would fail the whole job.
TEST_F(ClientTest, ATransferRequestOutlastsAStreakOfThrottles) {
  server().script("/b/part", throttles(6));
  auto limit = std::make_shared<ConcurrencyLimit>(8);
  Client client = Client(session_, kS3).for_transfer(limit);
  HttpRequest r = get("/b/part");
  r.method = "PUT";
  r.body.data = "part bytes";
  EXPECT_EQ(client.send("UploadPart", r).status, 200);
  EXPECT_EQ(count("/b/part"), 7);
  ASSERT_EQ(delays_.size(), 6u);
  for (std::size_t i = 0; i < delays_.size(); ++i)  // the standard back-off, attempt after attempt
    EXPECT_LE(delays_[i].count(), std::min<long long>(20'000, 1000LL << i)) << i;
  EXPECT_EQ(session_->retry->budget_left(), 500);  // the token bucket is left to standard calls
  const auto state = limit->state();
  EXPECT_EQ(state.throttles, 6u);
  EXPECT_EQ(state.in_flight, 0u);
  EXPECT_EQ(state.backing_off, 0u);
  EXPECT_EQ(state.limit, 2u);  // one in flight, halved to 1, then one success
}

// The same through S3::upload_file: a multipart upload whose first part
// meets six throttles in a row, while the calls around it go through.
TEST_F(ClientTest, AMultipartUploadSurvivesSixThrottlesOnOnePart) {
  const auto file = std::filesystem::temp_directory_path() / ("hoist-parts-" + std::to_string(::getpid()));
  std::ofstream(file, std::ios::binary) << std::string(6u << 20, 'p');
  nlohmann::json actions = nlohmann::json::array();
  actions.push_back(
      {{"body", "<InitiateMultipartUploadResult><UploadId>u1</UploadId></InitiateMultipartUploadResult>"}});
  for (const auto& a : throttles(6)) actions.push_back(a);
  actions.push_back({{"headers", {{"ETag", "e1"}}}});
  actions.push_back({{"headers", {{"ETag", "e2"}}}});
  server().script("/b/big", actions);
  S3 s3(session_);
  TransferOptions options;
  options.multipart_threshold = 5u << 20;
  options.part_size = 5u << 20;
  options.parallelism = 1;  // the script's order is the requests' order
  s3.upload_file("b", "big", file.string(), options);
  std::filesystem::remove(file);
  const auto requests = server().stats("/b/big")["requests"];
  ASSERT_EQ(requests.size(), 10u);  // create, 7 tries of part 1, part 2, complete
  EXPECT_EQ(requests[9]["method"], "POST");
  EXPECT_NE(requests[9]["body"].get<std::string>().find("<ETag>e2</ETag>"), std::string::npos);
  EXPECT_EQ(delays_.size(), 6u);
}

// What the user sees while it happens: the progress line of a staging is
// told at once when throttling halves the requests in flight.
TEST_F(ClientTest, StagingsProgressLineSaysWhenS3Throttles) {
  const auto file = std::filesystem::temp_directory_path() / ("hoist-blob-" + std::to_string(::getpid()));
  std::ofstream(file, std::ios::binary) << "blob";
  job::FileEntry blob;
  blob.path = file.string();
  blob.size = 4;
  blob.sha256 = std::string(64, 'a');
  server().script("/b/" + job::blob_key(blob.sha256), throttles(3));
  S3 s3(session_);
  job::StageStats stats;
  std::vector<std::string> notes;
  job::upload_blobs(s3, "b", {&blob}, stats, [&](const job::StageStats& s) { notes.push_back(job::throttle_note(s)); });
  std::filesystem::remove(file);
  EXPECT_EQ(stats.uploaded_files, 1u);
  EXPECT_EQ(stats.throttles, 3u);
  ASSERT_FALSE(notes.empty());
  EXPECT_EQ(notes.front(), "; S3 is throttling: 1 request in flight, retrying");
  job::StageStats calm;
  calm.request_limit = 64;
  EXPECT_EQ(job::throttle_note(calm), "");
}

TEST_F(ClientTest, AStandardCallStillGivesUpAfterItsAttempts) {
  server().script("/b/job.json", throttles(6));
  Client client(session_, kS3);
  try {
    client.send("PutObject", get("/b/job.json"));
    FAIL() << "a standard call retried past its attempts";
  } catch (const AwsError& e) {
    EXPECT_EQ(e.code, "ServiceUnavailable");  // the third: a 503 without a body
    EXPECT_EQ(e.http_status, 503);
    EXPECT_EQ(e.aws_message.find("gave up"), std::string::npos);
  }
  EXPECT_EQ(count("/b/job.json"), 3);
}

TEST_F(ClientTest, ATransferGivesUpOnceItsTimeBudgetIsSpentAndSaysSo) {
  RetryPolicy::Options options;
  options.transfer_budget = milliseconds(30'000);
  session_ = make_session(options);
  server().script("/b/slow", throttles(60));
  Client client = Client(session_, kS3).for_transfer(std::make_shared<ConcurrencyLimit>(4));
  try {
    client.send("UploadPart", get("/b/slow"));
    FAIL() << "retried past the time budget";
  } catch (const AwsError& e) {
    EXPECT_EQ(e.http_status, 503);
    EXPECT_NE(e.aws_message.find("gave up after"), std::string::npos) << e.aws_message;
  }
  milliseconds waited{0};
  for (auto d : delays_) waited += d;
  EXPECT_GE(waited, milliseconds(29'000));  // (the requests' own time counts too)
  EXPECT_LT(waited, milliseconds(50'000));  // past the budget by one delay at most
  EXPECT_GT(count("/b/slow"), 3);
  EXPECT_LT(count("/b/slow"), 60);
}

TEST_F(ClientTest, ATransferToAnUnreachableEndpointFailsAfterTheStandardAttempts) {
  session_->config.overrides.endpoint_url = "http://127.0.0.1:" + std::to_string(test::free_port());
  Client client = Client(session_, kS3).for_transfer(std::make_shared<ConcurrencyLimit>(4));
  try {
    client.send("PutObject", get("/b/k"));
    FAIL();
  } catch (const AwsError& e) {
    EXPECT_EQ(e.code, "NetworkError");
    EXPECT_NE(e.aws_message.find("3 attempts"), std::string::npos) << e.aws_message;
  }
  EXPECT_EQ(delays_.size(), 2u);
}

TEST_F(ClientTest, AFileDownloadCutShortIsRewrittenAtItsOffset) {
  const auto file = std::filesystem::temp_directory_path() / ("hoist-client-" + std::to_string(::getpid()));
  std::ofstream(file, std::ios::binary) << std::string(100, 'x');
  server().script("/obj", {{{"reset", "mid"}, {"bytes", 40000}}, {{"bytes", 40000}}});
  Client client(session_, kS3);
  HttpRequest r = get("/obj");
  r.response_file = file.string();
  r.response_offset = 100;
  EXPECT_EQ(client.send("GetObject", r).status, 200);
  std::ifstream in(file, std::ios::binary);
  const std::string content{std::istreambuf_iterator<char>(in), {}};
  std::filesystem::remove(file);
  ASSERT_EQ(content.size(), 40100u);
  EXPECT_EQ(content.substr(0, 100), std::string(100, 'x'));
  for (std::size_t i = 0; i < 40000; ++i) ASSERT_EQ(static_cast<unsigned char>(content[100 + i]), i % 251) << i;
}

TEST_F(ClientTest, ExpiredTokenRefreshesCredentialsAndRetriesOnce) {
  server().script("/exp", {{{"status", 400}, {"code", "ExpiredToken"}, {"format", "query"}},
                           {{"status", 400}, {"code", "ExpiredToken"}, {"format", "query"}}});
  Client client(session_, kEc2);
  try {
    client.send("DescribeInstances", get("/exp"));
    FAIL();
  } catch (const AwsError& e) {
    EXPECT_EQ(e.code, "ExpiredToken");
    EXPECT_NE(describe(e).find("aws sso login"), std::string::npos);
  }
  EXPECT_EQ(count("/exp"), 2);
  EXPECT_EQ(credentials_->fetches, 2);
  EXPECT_TRUE(delays_.empty());
}

TEST_F(ClientTest, OkStatusesAndHead404) {
  server().script("/maybe", {{{"status", 404}, {"code", "NoSuchKey"}}, {{"status", 404}, {"code", "NoSuchKey"}}});
  Client client(session_, kS3);
  CallOptions options;
  options.ok_statuses = {404};
  HttpRequest head = get("/maybe");
  head.method = "HEAD";
  EXPECT_EQ(client.send("HeadObject", head, options).status, 404);
  try {
    client.send("HeadObject", head);
    FAIL();
  } catch (const AwsError& e) {
    EXPECT_EQ(e.code, "NotFound");  // a HEAD has no body to name it
    EXPECT_TRUE(e.not_found());
  }
}

TEST_F(ClientTest, LogsAttemptsButNeverSecrets) {
  server().script("/log", {{{"status", 500}, {"code", "InternalError"}}});
  const auto old_level = log::level();
  log::set_level(log::Level::debug);
  std::stringstream captured;
  auto* old = std::cerr.rdbuf(captured.rdbuf());
  Client client(session_, kS3);
  HttpRequest r = get("/log");
  r.query = {{"X-Amz-Security-Token", "sekrit"}};
  client.send("GetObject", r);
  std::cerr.rdbuf(old);
  log::set_level(old_level);
  const std::string text = captured.str();
  EXPECT_NE(text.find("s3 GetObject -> 500 InternalError (attempt 1)"), std::string::npos) << text;
  EXPECT_NE(text.find("s3 GetObject -> 200 (attempt 2)"), std::string::npos) << text;
  EXPECT_EQ(text.find(kSecret), std::string::npos);
  EXPECT_EQ(text.find("sekrit"), std::string::npos);
  EXPECT_EQ(text.find("Signature="), std::string::npos);
}

TEST_F(ClientTest, QueryCallSendsAFormAndParsesXml) {
  server().script("/", {{{"body",
                          "<DescribeRegionsResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\">"
                          "<regionInfo><item><regionName>eu-west-1</regionName></item></regionInfo>"
                          "</DescribeRegionsResponse>"}}});
  Client client(session_, kEc2);
  const auto doc = query_call(client, "DescribeRegions", {{"RegionName.1", "eu-west-1"}, {"Filter.1.Name", "a b/c"}});
  EXPECT_EQ(xml_text(*doc, "regionName"), "eu-west-1");
  const auto req = server().stats("/")["requests"][0];
  EXPECT_EQ(req["method"], "POST");
  EXPECT_EQ(req["body"], "Action=DescribeRegions&Version=2016-11-15&RegionName.1=eu-west-1&Filter.1.Name=a+b%2Fc");
  EXPECT_EQ(req["headers"]["content-type"], "application/x-www-form-urlencoded; charset=utf-8");
}

TEST_F(ClientTest, QueryErrorsAreTyped) {
  server().script("/", {{{"status", 403},
                         {"code", "AccessDenied"},
                         {"format", "query"},
                         {"message", "User: arn:aws:iam::1:user/x is not authorized to perform: iam:CreateRole"},
                         {"request_id", "rid-9"}}});
  Client client(session_, kIam);
  try {
    query_call(client, "CreateRole", {});
    FAIL();
  } catch (const AwsError& e) {
    EXPECT_TRUE(e.access_denied());
    EXPECT_EQ(e.request_id, "rid-9");
    EXPECT_NE(describe(e).find("lack the permission iam:CreateRole"), std::string::npos) << describe(e);
  }
}

TEST_F(ClientTest, QueryPaginateFollowsTheToken) {
  server().script("/", {{{"body", "<R><items><item>a</item></items><nextToken>t1</nextToken></R>"}},
                        {{"body", "<R><items><item>b</item></items><nextToken>t2</nextToken></R>"}},
                        {{"body", "<R><items><item>c</item></items></R>"}}});
  Client client(session_, kEc2);
  std::vector<std::string> items;
  query_paginate(client, "DescribeThings", {{"MaxResults", "1"}}, "NextToken", "nextToken",
                 [&](const pugi::xml_document& doc) { items.push_back(xml_text(doc, "item")); });
  EXPECT_EQ(items, (std::vector<std::string>{"a", "b", "c"}));
  const auto requests = server().stats("/")["requests"];
  ASSERT_EQ(requests.size(), 3u);
  EXPECT_EQ(requests[0]["body"], "Action=DescribeThings&Version=2016-11-15&MaxResults=1");
  EXPECT_EQ(requests[2]["body"], "Action=DescribeThings&Version=2016-11-15&MaxResults=1&NextToken=t2");
}

TEST_F(ClientTest, JsonCallSetsTheTargetAndParsesErrors) {
  server().script("/", {{{"body", R"({"Parameter": {"Name": "p", "Value": "v"}})"}},
                        {{"status", 400}, {"code", "ParameterNotFound"}, {"format", "json"}, {"message", "gone"}}});
  Client client(session_, kSsm);
  const auto out = json_call(client, "GetParameter", {{"Name", "p"}});
  EXPECT_EQ(out["Parameter"]["Value"], "v");
  const auto req = server().stats("/")["requests"][0];
  EXPECT_EQ(req["headers"]["x-amz-target"], "AmazonSSM.GetParameter");
  EXPECT_EQ(req["headers"]["content-type"], "application/x-amz-json-1.1");
  EXPECT_EQ(nlohmann::json::parse(req["body"].get<std::string>()), (nlohmann::json{{"Name", "p"}}));
  try {
    json_call(client, "GetParameter", {{"Name", "p"}});
    FAIL();
  } catch (const AwsError& e) {
    EXPECT_EQ(e.code, "ParameterNotFound");
    EXPECT_EQ(e.aws_message, "gone");
    EXPECT_TRUE(e.not_found());
  }
}

TEST_F(ClientTest, JsonPaginateFollowsTheToken) {
  server().script("/", {{{"body", R"({"items": [1], "nextToken": "n1"})"}}, {{"body", R"({"items": [2]})"}}});
  Client client(session_, kSsm);
  int pages = 0;
  json_paginate(client, "ListThings", nullptr, "nextToken",
                [&](const nlohmann::json& page) { EXPECT_EQ(page["items"][0], ++pages); });
  EXPECT_EQ(pages, 2);
  const auto requests = server().stats("/")["requests"];
  EXPECT_EQ(requests[0]["body"], "{}");
  EXPECT_EQ(requests[1]["body"], R"({"nextToken":"n1"})");
}

}  // namespace
}  // namespace hoist::aws
