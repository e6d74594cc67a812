#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "aws/crypto.hpp"
#include "aws/error.hpp"
#include "job/staging.hpp"
#include "support/moto_server.hpp"

namespace fs = std::filesystem;
using namespace hoist;

namespace {

struct StagingTest : ::testing::Test {
  std::shared_ptr<aws::Session> session;
  fs::path dir;
  void SetUp() override {
    session = test::MotoServer::instance().session();
    std::string t = (fs::temp_directory_path() / "hoist-stage-XXXXXX").string();
    dir = ::mkdtemp(t.data());
  }
  void TearDown() override { fs::remove_all(dir); }
  job::Manifest make_files(int n, const std::string& salt) const {
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
  EXPECT_EQ(first.check_requests, 1u + 5u);  // the set marker, then parallel HEADs for a few files
  EXPECT_EQ(first.sets_known, 0u);
  EXPECT_TRUE(s3.head_object(bucket, job::set_key(m)).has_value()) << "no marker after the upload";
  auto second = job::stage(s3, bucket, {&m}, {});
  EXPECT_EQ(second.uploaded_files, 0u);
  EXPECT_EQ(second.uploaded_bytes, 0u);
  EXPECT_EQ(second.skipped_files, 5u);
  EXPECT_EQ(second.check_requests, 1u);  // the marker alone
  EXPECT_EQ(second.sets_known, 1u);
}

TEST_F(StagingTest, AnUnchangedFolderIsAnsweredByItsMarkerWhileAChangedOneIsChecked) {
  aws::S3 s3(session);
  const std::string bucket = "stage-two-sets";
  s3.create_bucket(bucket, {});
  auto inputs = make_files(40, "in");
  job::Manifest code;
  std::ofstream(dir / "main.py") << "print(1)\n";
  code["main.py"] = {(dir / "main.py").string(), 9, 0644, aws::sha256_file((dir / "main.py").string())};
  auto first = job::stage(s3, bucket, {&code, &inputs}, {});
  EXPECT_EQ(first.uploaded_files, 41u);
  std::ofstream(dir / "main.py") << "print(2)\n";
  code["main.py"].sha256 = aws::sha256_file((dir / "main.py").string());
  auto second = job::stage(s3, bucket, {&code, &inputs}, {});
  EXPECT_EQ(second.sets, 2u);
  EXPECT_EQ(second.sets_known, 1u);
  EXPECT_EQ(second.uploaded_files, 1u);
  EXPECT_EQ(second.skipped_files, 40u);
  EXPECT_EQ(second.check_requests, 2u + 1u);  // two markers, one HEAD for the new code blob
}

TEST_F(StagingTest, MarkersCheckedEarlierAreUsedAsTheyWere) {
  aws::S3 s3(session);
  const std::string bucket = "stage-prechecked";
  s3.create_bucket(bucket, {});
  auto m = make_files(3, "pre");
  auto before = job::check_markers(s3, bucket, {&m});  // as hoist run does, beside its other probes
  ASSERT_EQ(before.keys, std::vector<std::string>{job::set_key(m)});
  EXPECT_EQ(before.present, std::vector<char>{0});
  auto first = job::stage(s3, bucket, {&m}, {}, &before);
  EXPECT_EQ(first.uploaded_files, 3u);
  auto after = job::check_markers(s3, bucket, {&m});
  EXPECT_EQ(after.present, std::vector<char>{1});
  auto second = job::stage(s3, bucket, {&m}, {}, &after);
  EXPECT_EQ(second.uploaded_files, 0u);
  EXPECT_EQ(second.sets_known, 1u);
}

TEST(SetKey, DependsOnContentNotNames) {
  job::Manifest a;
  job::Manifest b;
  job::Manifest c;
  a["x"] = {"/x", 1, 0644, "aa"};
  a["y"] = {"/y", 2, 0644, "bb"};
  b["renamed"] = {"/r", 2, 0644, "bb"};
  b["other"] = {"/o", 1, 0644, "aa"};
  c["x"] = {"/x", 1, 0644, "aa"};
  EXPECT_EQ(job::set_key(a), job::set_key(b));
  EXPECT_NE(job::set_key(a), job::set_key(c));
  EXPECT_EQ(job::set_key(job::Manifest{}), "");
  EXPECT_EQ(job::set_key(a).rfind("blobs/sets/", 0), 0u);
}

TEST_F(StagingTest, ManyFilesAreFoundByListingAboutOneRequestPerThousand) {
  aws::S3 s3(session);
  const std::string bucket = "stage-many";
  s3.create_bucket(bucket, {});
  auto m = make_files(2500, "many");
  auto first = job::stage(s3, bucket, {&m}, {});
  EXPECT_EQ(first.uploaded_files, 2500u);
  EXPECT_LE(first.check_requests, 1u + 1u);  // the marker; an empty listing answers for all
  auto second = job::stage(s3, bucket, {&m}, {});
  EXPECT_EQ(second.uploaded_files, 0u);
  EXPECT_EQ(second.check_requests, 1u);
  // A changed file is found and sent again; nothing else is.
  std::ofstream(dir / "f7") << "changed";
  auto m2 = job::list_files(dir.string());
  job::hash_files(m2, 2);
  auto third = job::stage(s3, bucket, {&m2}, {});
  EXPECT_EQ(third.uploaded_files, 1u);
  EXPECT_LE(third.check_requests, 1u + 3u);  // a new set: its marker, then 2,501 keys in 3 pages
}

// A bucket the run has just created: no blob is asked for, all are sent.
TEST_F(StagingTest, ANewBucketIsNotAskedWhatItHolds) {
  aws::S3 s3(session);
  const std::string bucket = "stage-new-bucket";
  s3.create_bucket(bucket, {});
  auto m = make_files(5, "new");
  auto checked = job::check_markers(s3, bucket, {&m});
  checked.bucket_new = true;
  auto plan = job::plan_stage(s3, bucket, {&m}, &checked);
  EXPECT_EQ(plan.to_send.size(), 5u);
  EXPECT_EQ(plan.stats.check_requests, 1u);  // the marker HEAD made beforehand, and nothing since
  auto stats = job::stage(s3, bucket, {&m}, {}, &checked);
  EXPECT_EQ(stats.uploaded_files, 5u);
  EXPECT_EQ(stats.check_requests, 1u);
  // Once it holds them, a bucket that is not new is asked as before.
  checked.bucket_new = false;
  EXPECT_EQ(job::plan_stage(s3, bucket, {&m}, &checked).to_send.size(), 0u);
}

TEST_F(StagingTest, MissingBucketMeansEverythingIsMissing) {
  aws::S3 s3(session);
  auto m = make_files(3, "nb");
  std::uint64_t requests = 0;
  auto blobs = job::distinct_blobs({&m});
  EXPECT_EQ(job::missing_blobs(s3, "no-such-bucket-here", blobs, requests).size(), 3u);
}

TEST(DistinctBlobs, IdenticalContentIsSentOnce) {
  job::Manifest a;
  job::Manifest b;
  a["x"] = {"/x", 1, 0644, "aa"};
  a["y"] = {"/y", 1, 0644, "aa"};
  b["z"] = {"/z", 2, 0644, "bb"};
  EXPECT_EQ(job::distinct_blobs({&a, &b}).size(), 2u);
}

}  // namespace

TEST_F(StagingTest, AnS3InputIsSizedPageByPageUpToALimit) {
  aws::S3 s3(session);
  const std::string bucket = "stage-size-prefix";
  s3.create_bucket(bucket, {});
  std::uint64_t total = 0;
  for (int i = 0; i < 25; ++i) {
    const std::string body(static_cast<std::size_t>(i * 7 + 1), 'x');
    s3.put_object(bucket, "in/f" + std::to_string(100 + i), body, "application/octet-stream");
    total += body.size();
  }
  s3.put_object(bucket, "other/f", "not in the prefix", "application/octet-stream");
  auto whole = job::size_prefix(s3, bucket, "in/", 3, 10);  // 10 + 10 + 5
  EXPECT_TRUE(whole.complete);
  EXPECT_EQ(whole.objects, 25u);
  EXPECT_EQ(whole.bytes, total);
  auto part = job::size_prefix(s3, bucket, "in/", 2, 10);  // stops after 20: size unknown
  EXPECT_FALSE(part.complete);
  EXPECT_EQ(part.objects, 20u);
  auto none = job::size_prefix(s3, bucket, "nothing/", 3, 10);
  EXPECT_TRUE(none.complete);
  EXPECT_EQ(none.objects, 0u);
  EXPECT_THROW(job::size_prefix(s3, "no-such-bucket-here", "in/", 3, 10), aws::AwsError);
}
