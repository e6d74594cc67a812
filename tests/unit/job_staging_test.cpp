#include "job/staging.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "support/moto_server.hpp"

namespace fs = std::filesystem;
using namespace hoist;

namespace {

struct StagingTest : ::testing::Test {
  std::shared_ptr<aws::Session> session;
  fs::path dir;
  void SetUp() override {
    auto& moto = test::MotoServer::instance();
    aws::Overrides o;
    o.endpoint_url = moto.endpoint();
    o.region = "us-east-1";
    session = aws::Session::create(o);
    std::string t = (fs::temp_directory_path() / "hoist-stage-XXXXXX").string();
    dir = ::mkdtemp(t.data());
  }
  void TearDown() override { fs::remove_all(dir); }
  job::Manifest make_files(int n, const std::string& salt) {
    for (int i = 0; i < n; ++i) std::ofstream(dir / ("f" + std::to_string(i))) << salt << i;
    auto m = job::list_files(dir.string());
    job::hash_files(m, 2);
    return m;
  }
};

TEST_F(StagingTest, SecondStageSendsNothingWithFewRequests) {
  aws::S3 s3(session);
  const std::string bucket = "stage-few";
  s3.create_bucket(bucket, {});
  auto m = make_files(5, "few");
  auto first = job::stage(s3, bucket, {&m}, {});
  EXPECT_EQ(first.uploaded_files, 5u);
  EXPECT_EQ(first.check_requests, 5u);  // parallel HEADs for a few files
  auto second = job::stage(s3, bucket, {&m}, {});
  EXPECT_EQ(second.uploaded_files, 0u);
  EXPECT_EQ(second.uploaded_bytes, 0u);
  EXPECT_EQ(second.skipped_files, 5u);
}

TEST_F(StagingTest, ManyFilesAreFoundByListingAboutOneRequestPerThousand) {
  aws::S3 s3(session);
  const std::string bucket = "stage-many";
  s3.create_bucket(bucket, {});
  auto m = make_files(2500, "many");
  auto first = job::stage(s3, bucket, {&m}, {});
  EXPECT_EQ(first.uploaded_files, 2500u);
  EXPECT_LE(first.check_requests, 1u);  // an empty listing answers for all
  auto second = job::stage(s3, bucket, {&m}, {});
  EXPECT_EQ(second.uploaded_files, 0u);
  EXPECT_LE(second.check_requests, 3u);
  // A changed file is found and sent again; nothing else is.
  std::ofstream(dir / "f7") << "changed";
  auto m2 = job::list_files(dir.string());
  job::hash_files(m2, 2);
  auto third = job::stage(s3, bucket, {&m2}, {});
  EXPECT_EQ(third.uploaded_files, 1u);
}

TEST_F(StagingTest, MissingBucketMeansEverythingIsMissing) {
  aws::S3 s3(session);
  auto m = make_files(3, "nb");
  std::uint64_t requests = 0;
  auto blobs = job::distinct_blobs({&m});
  EXPECT_EQ(job::missing_blobs(s3, "no-such-bucket-here", blobs, requests).size(), 3u);
}

TEST(DistinctBlobs, IdenticalContentIsSentOnce) {
  job::Manifest a, b;
  a["x"] = {"/x", 1, 0644, "aa"};
  a["y"] = {"/y", 1, 0644, "aa"};
  b["z"] = {"/z", 2, 0644, "bb"};
  EXPECT_EQ(job::distinct_blobs({&a, &b}).size(), 2u);
}

}  // namespace
