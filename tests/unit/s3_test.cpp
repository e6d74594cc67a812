// S3 against moto: bucket creation and hardening, objects, listing with
// pagination, batch delete, awkward keys, multipart and ranged transfers.
#include "aws/s3.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <pugixml.hpp>
#include <random>
#include <set>

#include "aws/error.hpp"
#include "aws/protocols.hpp"
#include "aws/s3_detail.hpp"
#include "support/fault_server.hpp"
#include "support/moto_server.hpp"

namespace hoist::aws {
namespace {

namespace fs = std::filesystem;

std::shared_ptr<Session> moto_session(const std::string& region = "us-east-1") {
  Overrides overrides;
  overrides.endpoint_url = test::MotoServer::instance().endpoint();
  overrides.region = region;
  return Session::create(overrides);
}

// A bucket name unique to this test process, so tests never share state.
std::string bucket_name(const std::string& what) {
  return "hoist-test-" + what + "-" + std::to_string(::getpid());
}

// Raw GET of a bucket subresource, to read back what S3 stored.
std::string get_subresource(S3& s3, const std::string& bucket, const std::string& subresource) {
  HttpRequest r;
  r.path = "/" + bucket;
  r.query = {{subresource, ""}};
  return s3.client().send("Get" + subresource, std::move(r)).body;
}

std::string xml_value(const std::string& body, const char* name) {
  pugi::xml_document doc;
  doc.load_buffer(body.data(), body.size());
  return xml_text(doc, name);
}

class TempDir {
 public:
  TempDir() : path_(fs::temp_directory_path() / ("hoist-s3-test-" + std::to_string(::getpid()))) {
    fs::create_directories(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  [[nodiscard]] std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  fs::path path_;
};

std::string random_bytes(std::size_t size, unsigned seed) {
  std::mt19937 rng(seed);
  std::string out(size, '\0');
  for (auto& c : out) c = static_cast<char>(rng() & 0xff);
  return out;
}

void write_file(const std::string& path, const std::string& data) {
  std::ofstream(path, std::ios::binary) << data;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::size_t multipart_uploads(S3& s3, const std::string& bucket) {
  HttpRequest r;
  r.path = "/" + bucket;
  r.query = {{"uploads", ""}};
  auto body = s3.client().send("ListMultipartUploads", std::move(r)).body;
  pugi::xml_document doc;
  doc.load_buffer(body.data(), body.size());
  std::size_t n = 0;
  for (auto u : doc.document_element().children("Upload")) {
    (void)u;
    ++n;
  }
  return n;
}

TEST(S3Uri, ParsesBucketAndKey) {
  auto u = S3Uri::parse("s3://my-bucket/a/b c.txt");
  EXPECT_EQ(u.bucket, "my-bucket");
  EXPECT_EQ(u.key, "a/b c.txt");
  EXPECT_EQ(u.str(), "s3://my-bucket/a/b c.txt");
  EXPECT_EQ(S3Uri::parse("s3://only").key, "");
  EXPECT_THROW(S3Uri::parse("http://x/y"), Failure);
  EXPECT_THROW(S3Uri::parse("s3:///key"), Failure);
}

TEST(S3Detail, EncodesPathsOnceAndDecodesListings) {
  EXPECT_EQ(s3_detail::object_path("b", "a b/c+d%e"), "/b/a%20b/c%2Bd%25e");
  EXPECT_EQ(s3_detail::url_decode("a+b%2Bc%25d%C3%A9"), "a b+c%d\xC3\xA9");
  EXPECT_EQ(s3_detail::url_decode("100%"), "100%");
  EXPECT_EQ(s3_detail::xml_escape("<a&'\">"), "&lt;a&amp;&apos;&quot;&gt;");
}

TEST(S3Detail, ByteCountsAreNumbersOrAMalformedResponse) {
  HttpResponse response;
  response.status = 200;
  response.headers = {{"x-amz-request-id", "req-1"}};
  EXPECT_EQ(s3_detail::byte_count("", "HeadObject", response), std::nullopt);
  EXPECT_EQ(s3_detail::byte_count("0", "HeadObject", response), 0u);
  EXPECT_EQ(s3_detail::byte_count("5368709120", "HeadObject", response), 5368709120u);
  for (std::string_view bad : {"12a", "-1", " 1", "1.5", "99999999999999999999999"}) {
    try {
      (void)s3_detail::byte_count(bad, "ListObjectsV2", response);
      ADD_FAILURE() << bad << " was accepted";
    } catch (const AwsError& e) {
      EXPECT_EQ(e.code, "MalformedResponse") << bad;
      EXPECT_NE(std::string(e.what()).find(bad), std::string::npos) << e.what();
    }
  }
}

TEST(S3, CreateBucketIsIdempotentAndHardened) {
  S3 s3(moto_session());
  const auto bucket = bucket_name("create");
  BucketSettings settings;
  settings.tags = {{"hoist:managed", "true"}, {"team", "a&b"}};
  EXPECT_TRUE(s3.create_bucket(bucket, settings));
  EXPECT_FALSE(s3.create_bucket(bucket, settings));  // ours already: fine
  EXPECT_TRUE(s3.head_bucket(bucket));
  EXPECT_FALSE(s3.head_bucket(bucket + "-missing"));

  auto pab = get_subresource(s3, bucket, "publicAccessBlock");
  for (const char* flag : {"BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets"}) {
    EXPECT_EQ(xml_value(pab, flag), "true") << flag;
  }
  EXPECT_EQ(xml_value(get_subresource(s3, bucket, "encryption"), "SSEAlgorithm"), "AES256");

  // Over moto's plain http the TLS-only policy would lock hoist out: skipped.
  try {
    get_subresource(s3, bucket, "policy");
    ADD_FAILURE() << "a TLS-only policy was set over plain http";
  } catch (const AwsError& e) {
    EXPECT_EQ(e.code, "NoSuchBucketPolicy");
  }

  auto tagging = get_subresource(s3, bucket, "tagging");
  EXPECT_NE(tagging.find("<Key>hoist:managed</Key>"), std::string::npos) << tagging;
  EXPECT_NE(tagging.find("a&amp;b"), std::string::npos) << tagging;

  s3.delete_bucket(bucket);
  EXPECT_FALSE(s3.head_bucket(bucket));
}

// Every request to a bucket whose owner the session knows names that owner,
// signed; requests to other buckets do not.
TEST(S3, ExpectedBucketOwnerOnEveryRequestToAKnownBucket) {
  const auto& server = test::FaultServer::instance();
  server.reset();
  auto session = moto_session();  // its credentials, the fault server's endpoint
  session->config.overrides.endpoint_url = server.endpoint();
  session->bucket_owners["owned"] = "123456789012";
  // HeadBucket, then GetBucketTagging's XML
  server.script("/owned",
                nlohmann::json::array({nlohmann::json::object(), {{"body", "<Tagging><TagSet/></Tagging>"}}}));
  S3 s3(session);
  s3.put_object("owned", "k", "x");
  s3.get_object("owned", "k");
  s3.head_bucket("owned");
  s3.bucket_tags("owned");
  s3.put_object("foreign", "k", "x");
  int seen = 0;
  for (const char* path : {"/owned/k", "/owned"}) {
    const auto stats = server.stats(path);
    for (const auto& r : stats["requests"]) {
      ++seen;
      const auto& headers = r["headers"];
      EXPECT_EQ(headers.value("x-amz-expected-bucket-owner", ""), "123456789012") << r.dump();
      EXPECT_NE(headers.value("authorization", "").find("x-amz-expected-bucket-owner"), std::string::npos)
          << "not signed: " << r.dump();
    }
  }
  EXPECT_EQ(seen, 4);
  const auto foreign = server.stats("/foreign/k")["requests"];
  ASSERT_EQ(foreign.size(), 1u);
  EXPECT_FALSE(foreign[0]["headers"].contains("x-amz-expected-bucket-owner")) << foreign.dump();
}

// What an interrupted first run leaves (a bucket, no settings, no tags)
// converges: told it exists, create_bucket applies every setting, tags last.
TEST(S3, BucketTagsAndSettingsOnABareBucket) {
  S3 s3(moto_session());
  const auto bucket = bucket_name("bare");
  EXPECT_EQ(s3.bucket_tags(bucket), std::nullopt);  // no such bucket
  BucketSettings bare;
  bare.block_public_access = bare.default_encryption = bare.tls_only_policy = false;
  bare.abort_incomplete_uploads_days = 0;
  EXPECT_TRUE(s3.create_bucket(bucket, bare));
  EXPECT_EQ(s3.bucket_tags(bucket), (std::map<std::string, std::string>{}));
  try {
    get_subresource(s3, bucket, "publicAccessBlock");
    ADD_FAILURE() << "a bare bucket has a public access block";
  } catch (const AwsError&) {
  }

  BucketSettings settings;
  settings.tags = {{"hoist:managed", "true"}, {"hoist:hardening", "1"}};
  settings.exists = true;
  EXPECT_FALSE(s3.create_bucket(bucket, settings));
  EXPECT_EQ(s3.bucket_tags(bucket), settings.tags);
  EXPECT_EQ(xml_value(get_subresource(s3, bucket, "publicAccessBlock"), "BlockPublicPolicy"), "true");
  EXPECT_EQ(xml_value(get_subresource(s3, bucket, "encryption"), "SSEAlgorithm"), "AES256");
  EXPECT_EQ(xml_value(get_subresource(s3, bucket, "lifecycle"), "ID"), "hoist-abort-incomplete-uploads");
}

// The policy create_bucket sets over https: valid for S3, and it denies
// plain-http object access (moto evaluates bucket policies).
TEST(S3, TlsOnlyPolicyDeniesPlainHttp) {
  S3 s3(moto_session());
  const auto bucket = bucket_name("tlsonly");
  s3.create_bucket(bucket, {});
  s3.put_object(bucket, "before", "x");
  const auto document = s3_detail::tls_only_policy(bucket, "us-east-1");
  HttpRequest r;
  r.method = "PUT";
  r.path = "/" + bucket;
  r.query = {{"policy", ""}};
  r.body.data = document;
  s3.client().send("PutBucketPolicy", std::move(r));

  auto policy = nlohmann::json::parse(get_subresource(s3, bucket, "policy"));
  const auto& statement = policy["Statement"][0];
  EXPECT_EQ(statement["Effect"], "Deny");
  EXPECT_EQ(statement["Principal"], "*");
  EXPECT_EQ(statement["Action"], "s3:*");
  EXPECT_EQ(statement["Condition"]["Bool"]["aws:SecureTransport"], "false");
  EXPECT_EQ(statement["Resource"], (nlohmann::json{"arn:aws:s3:::" + bucket, "arn:aws:s3:::" + bucket + "/*"}));
  try {
    s3.get_object(bucket, "before");
    ADD_FAILURE() << "plain-http read allowed despite the TLS-only policy";
  } catch (const AwsError& e) {
    EXPECT_EQ(e.http_status, 403);
  }
  EXPECT_NE(s3_detail::tls_only_policy("b", "cn-north-1").find("arn:aws-cn:s3:::b/*"), std::string::npos);
}

TEST(S3, CreateBucketOutsideUsEast1SetsLocationConstraint) {
  S3 s3(moto_session("eu-west-1"));
  const auto bucket = bucket_name("euwest");
  EXPECT_TRUE(s3.create_bucket(bucket, {}));
  EXPECT_FALSE(s3.create_bucket(bucket, {}));
  EXPECT_EQ(xml_value(get_subresource(s3, bucket, "location"), "LocationConstraint"), "eu-west-1");
}

TEST(S3, PutGetHeadAndMissingObjects) {
  S3 s3(moto_session());
  const auto bucket = bucket_name("objects");
  s3.create_bucket(bucket, {});
  s3.put_object(bucket, "dir/hello.txt", "hello world", "text/plain");
  EXPECT_EQ(s3.get_object(bucket, "dir/hello.txt"), "hello world");
  auto info = s3.head_object(bucket, "dir/hello.txt");
  ASSERT_TRUE(info);
  EXPECT_EQ(info->size, 11u);
  EXPECT_EQ(info->etag, "\"5eb63bbbe01eeed093cb22bb8f5acdc3\"");  // md5 of the body
  EXPECT_FALSE(s3.head_object(bucket, "dir/missing"));
  EXPECT_FALSE(s3.get_object_if_exists(bucket, "dir/missing"));
  EXPECT_EQ(s3.get_object_if_exists(bucket, "dir/hello.txt").value_or(""), "hello world");
  s3.put_object(bucket, "empty", "");
  EXPECT_EQ(s3.head_object(bucket, "empty")->size, 0u);
  try {
    s3.get_object(bucket, "dir/missing");
    FAIL() << "expected NoSuchKey";
  } catch (const AwsError& e) {
    EXPECT_EQ(e.code, "NoSuchKey");
    EXPECT_TRUE(e.not_found());
  }
  EXPECT_THROW(s3.get_object_if_exists(bucket + "-missing", "k"), AwsError);
}

TEST(S3, ListPaginatesAndDeletesInBatches) {
  S3 s3(moto_session());
  const auto bucket = bucket_name("list");
  s3.create_bucket(bucket, {});
  constexpr std::size_t kCount = 1100;  // more than one page and one delete batch
  std::vector<std::string> keys;
  for (std::size_t i = 0; i < kCount; ++i) {
    std::array<char, 32> name{};
    std::snprintf(name.data(), name.size(), "p/%s/%04zu", i % 2 ? "odd" : "even", i);
    keys.emplace_back(name.data());
  }
  parallel_for(keys.size(), 8, [&](std::size_t i) { s3.put_object(bucket, keys[i], std::to_string(i)); });
  s3.put_object(bucket, "p/top.txt", "x");
  s3.put_object(bucket, "other", "y");

  std::vector<std::string> listed;
  s3.list_objects(bucket, "p/", [&](const ObjectInfo& o) { listed.push_back(o.key); });
  EXPECT_EQ(listed.size(), kCount + 1);
  EXPECT_TRUE(std::is_sorted(listed.begin(), listed.end()));

  std::size_t after = 0;
  s3.list_objects(
      bucket, "p/", [&](const ObjectInfo&) { ++after; }, "p/odd/0999");
  EXPECT_EQ(after, 50u + 1);  // odd 1001..1099, then p/top.txt

  std::vector<ObjectInfo> objects;
  std::vector<std::string> prefixes;
  s3.list_delimited(bucket, "p/", objects, prefixes);
  ASSERT_EQ(objects.size(), 1u);
  EXPECT_EQ(objects[0].key, "p/top.txt");
  EXPECT_EQ(prefixes, (std::vector<std::string>{"p/even/", "p/odd/"}));

  keys.emplace_back("p/top.txt");
  EXPECT_EQ(s3.delete_objects(bucket, keys), kCount + 1);
  std::size_t left = 0;
  s3.list_objects(bucket, "", [&](const ObjectInfo& o) {
    ++left;
    EXPECT_EQ(o.key, "other");
  });
  EXPECT_EQ(left, 1u);
  EXPECT_EQ(s3.delete_objects(bucket, {}), 0u);
}

TEST(S3, AwkwardKeysRoundTrip) {
  S3 s3(moto_session());
  const auto bucket = bucket_name("keys");
  s3.create_bucket(bucket, {});
  TempDir dir;
  const std::vector<std::string> keys = {"with space/and  two",
                                         "plus+equals=amp&pct%20",
                                         "parens(1) 'quote' !bang *star",
                                         "colon:at@comma,semi;dollar$",
                                         "double\"quote",
                                         "caf\xC3\xA9/\xE6\x97\xA5\xE6\x9C\xAC.txt",
                                         "tilde~under_score-dash.dot",
                                         "a/b//c/",
                                         "<xml>&amp;",
                                         "hash#question?",
                                         "percent%2F/slash",
                                         "dots/./and/../x",
                                         "../up"};
  std::set<std::string> expected;
  for (const auto& key : keys) {
    s3.put_object(bucket, key, "body of " + key);
    EXPECT_EQ(s3.get_object(bucket, key), "body of " + key) << key;
    auto info = s3.head_object(bucket, key);
    ASSERT_TRUE(info) << key;
    EXPECT_EQ(info->size, ("body of " + key).size());
    expected.insert(key);
  }
  // A file body and a download through the same keys.
  write_file(dir.file("f"), "file body");
  s3.upload_file(bucket, keys[1] + ".file", dir.file("f"));
  s3.download_file(bucket, keys[1] + ".file", dir.file("g"));
  EXPECT_EQ(read_file(dir.file("g")), "file body");
  expected.insert(keys[1] + ".file");

  std::set<std::string> listed;
  s3.list_objects(bucket, "", [&](const ObjectInfo& o) { listed.insert(o.key); });
  EXPECT_EQ(listed, expected);

  std::vector<std::string> all(expected.begin(), expected.end());
  EXPECT_EQ(s3.delete_objects(bucket, all), all.size());
  std::size_t left = 0;
  s3.list_objects(bucket, "", [&](const ObjectInfo&) { ++left; });
  EXPECT_EQ(left, 0u);
}

TEST(S3, MultipartUploadAndRangedDownload) {
  S3 s3(moto_session());
  const auto bucket = bucket_name("multipart");
  s3.create_bucket(bucket, {});
  TempDir dir;
  const auto data = random_bytes((11u << 20) + 12345, 7);  // 3 parts of 5 MiB (S3's minimum)
  write_file(dir.file("up"), data);

  TransferOptions options;
  options.multipart_threshold = 1 << 20;
  options.part_size = 1 << 20;  // raised to 5 MiB
  options.parallelism = 3;
  std::atomic<std::uint64_t> sent{0};
  options.progress.on_bytes = [&](std::uint64_t n) { sent += n; };
  s3.upload_file(bucket, "big/object.bin", dir.file("up"), options);
  EXPECT_EQ(sent.load(), data.size());

  auto info = s3.head_object(bucket, "big/object.bin");
  ASSERT_TRUE(info);
  EXPECT_EQ(info->size, data.size());
  EXPECT_NE(info->etag.find("-3\""), std::string::npos) << info->etag;  // multipart ETag
  EXPECT_EQ(multipart_uploads(s3, bucket), 0u);

  // Ranged parts of an odd size, so the last range is short.
  options.part_size = (1 << 20) + 7;
  std::atomic<std::uint64_t> received{0};
  options.progress.on_bytes = [&](std::uint64_t n) { received += n; };
  write_file(dir.file("down"), "stale content that must go");
  s3.download_file(bucket, "big/object.bin", dir.file("down"), options);
  EXPECT_EQ(received.load(), data.size());
  EXPECT_TRUE(read_file(dir.file("down")) == data);
  EXPECT_FALSE(fs::exists(dir.file("down") + ".hoist-partial"));

  // Below the threshold: one streamed GET overwrites the file.
  s3.put_object(bucket, "small", "tiny");
  s3.download_file(bucket, "small", dir.file("down"));
  EXPECT_EQ(read_file(dir.file("down")), "tiny");
}

TEST(S3, SinglePutUsesTheGivenHash) {
  S3 s3(moto_session());
  const auto bucket = bucket_name("hash");
  s3.create_bucket(bucket, {});
  TempDir dir;
  write_file(dir.file("f"), "content");
  // sha256("content"), as a content-addressed caller would know it.
  s3.upload_file(bucket, "k", dir.file("f"), {},
                 {"ed7002b439e9ac845f22357d822bac1444730fbdb6016d3ec9432297b9ec9f73", {}});
  EXPECT_EQ(s3.get_object(bucket, "k"), "content");
}

// A caller that hashed and sized the file is trusted on the size (no second
// stat and open), but a file that shrank since fails instead of hanging or
// sending a short object.
TEST(S3, KnownSizeIsUsedAndAShrunkFileFails) {
  S3 s3(moto_session());
  const auto bucket = bucket_name("known");
  s3.create_bucket(bucket, {});
  TempDir dir;
  write_file(dir.file("f"), "content");
  s3.upload_file(bucket, "k", dir.file("f"), {}, {"", std::uint64_t{7}});
  EXPECT_EQ(s3.get_object(bucket, "k"), "content");
  EXPECT_THROW(s3.upload_file(bucket, "short", dir.file("f"), {}, {"", std::uint64_t{100}}), std::runtime_error);
  EXPECT_FALSE(s3.head_object(bucket, "short").has_value());
}

TEST(S3, FailedMultipartUploadIsAborted) {
  S3 s3(moto_session());
  const auto bucket = bucket_name("abort");
  s3.create_bucket(bucket, {});
  TempDir dir;
  write_file(dir.file("up"), random_bytes(11u << 20, 3));
  TransferOptions options;
  options.multipart_threshold = 1 << 20;
  options.parallelism = 1;
  // The first finished part fails the transfer, as a failed request would.
  options.progress.on_bytes = [](std::uint64_t) { throw std::runtime_error("injected part failure"); };
  EXPECT_THROW(s3.upload_file(bucket, "never", dir.file("up"), options), std::runtime_error);
  EXPECT_EQ(multipart_uploads(s3, bucket), 0u);
  EXPECT_FALSE(s3.head_object(bucket, "never"));

  // A bucket that vanishes after the first part: the next part fails with
  // S3's own error, which reaches the caller (the abort fails too, quietly).
  bool deleted = false;
  options.progress.on_bytes = [&](std::uint64_t) {
    if (!std::exchange(deleted, true)) s3.delete_bucket(bucket);
  };
  try {
    s3.upload_file(bucket, "k", dir.file("up"), options);
    FAIL() << "expected NoSuchBucket";
  } catch (const AwsError& e) {
    EXPECT_EQ(e.code, "NoSuchBucket");
  }
}

TEST(S3, DownloadOfMissingObjectLeavesNoFile) {
  S3 s3(moto_session());
  const auto bucket = bucket_name("missing");
  s3.create_bucket(bucket, {});
  TempDir dir;
  try {
    s3.download_file(bucket, "nope", dir.file("out"));
    FAIL() << "expected not found";
  } catch (const Failure& e) {
    EXPECT_EQ(e.kind(), Failure::no_such_object);
  }
  EXPECT_FALSE(fs::exists(dir.file("out")));
  EXPECT_FALSE(fs::exists(dir.file("out") + ".hoist-partial"));
}

TEST(S3, PresignGetValidatesExpiry) {
  S3 s3(moto_session());
  auto url = s3.presign_get("bkt", "a b/c+d", std::chrono::seconds(600));
  EXPECT_EQ(url.rfind(test::MotoServer::instance().endpoint() + "/bkt/a%20b/c%2Bd?", 0), 0u) << "unexpected URL shape";
  EXPECT_NE(url.find("X-Amz-Expires=600"), std::string::npos);
  EXPECT_NE(url.find("X-Amz-Signature="), std::string::npos);
  EXPECT_NO_THROW(s3.presign_get("bkt", "k", std::chrono::seconds(604800)));
  EXPECT_THROW(s3.presign_get("bkt", "k", std::chrono::seconds(604801)), Failure);
  EXPECT_THROW(s3.presign_get("bkt", "k", std::chrono::seconds(0)), Failure);
  EXPECT_THROW(s3.presign_get("bkt", "", std::chrono::seconds(60)), Failure);
}

}  // namespace
}  // namespace hoist::aws
