// The bucket probe against moto: missing, bare (an interrupted first run),
// hardened, and someone else's tags.
#include <gtest/gtest.h>
#include <unistd.h>

#include "aws/s3.hpp"
#include "job/account.hpp"
#include "support/moto_server.hpp"
#include "util/error.hpp"

namespace hoist::job {
namespace {

std::shared_ptr<aws::Session> moto_session() {
  aws::Overrides overrides;
  overrides.endpoint_url = test::MotoServer::instance().endpoint();
  overrides.region = "us-east-1";
  return aws::Session::create(overrides);
}

TEST(ProbeBucket, ConvergesFromBareAndThenIsComplete) {
  auto session = moto_session();
  const std::string bucket = "hoist-probe-" + std::to_string(::getpid());
  auto missing = probe_bucket(session, bucket);
  EXPECT_FALSE(missing.existed);

  aws::S3 s3(session);
  aws::BucketSettings bare;
  bare.block_public_access = bare.default_encryption = bare.tls_only_policy = false;
  bare.abort_incomplete_uploads_days = 0;
  s3.create_bucket(bucket, bare);
  auto found = probe_bucket(session, bucket);
  EXPECT_TRUE(found.existed);
  EXPECT_TRUE(found.to_finish);

  EXPECT_TRUE(create_bucket(session, bucket, /*exists=*/true).existed);
  auto done = probe_bucket(session, bucket);
  EXPECT_TRUE(done.existed);
  EXPECT_FALSE(done.to_finish);
  EXPECT_EQ(s3.bucket_tags(bucket)->at("hoist:hardening"), "1");
}

// jobs_retention: a bucket with another retention (or none) is to finish.
TEST(ProbeBucket, ARetentionOtherThanTheBucketsIsToFinish) {
  auto session = moto_session();
  const std::string bucket = "hoist-probe-retention-" + std::to_string(::getpid());
  create_bucket(session, bucket);
  EXPECT_FALSE(probe_bucket(session, bucket).to_finish);
  EXPECT_TRUE(probe_bucket(session, bucket, 30).to_finish);
  create_bucket(session, bucket, /*exists=*/true, 30);
  EXPECT_FALSE(probe_bucket(session, bucket, 30).to_finish);
  EXPECT_TRUE(probe_bucket(session, bucket, 7).to_finish);
  EXPECT_TRUE(probe_bucket(session, bucket).to_finish);
  aws::S3 s3(session);
  EXPECT_EQ(s3.bucket_tags(bucket)->at("hoist:jobs-retention"), "30d");
  create_bucket(session, bucket, /*exists=*/true);
  EXPECT_FALSE(probe_bucket(session, bucket).to_finish);
  EXPECT_FALSE(s3.bucket_tags(bucket)->contains("hoist:jobs-retention"));
}

TEST(ProbeBucket, RefusesABucketTaggedButNotHoists) {
  auto session = moto_session();
  const std::string bucket = "hoist-probe-team-" + std::to_string(::getpid());
  aws::S3 s3(session);
  aws::BucketSettings theirs;
  theirs.tags = {{"team", "x"}};
  s3.create_bucket(bucket, theirs);
  try {
    probe_bucket(session, bucket);
    ADD_FAILURE() << "probed as hoist's";
  } catch (const Fatal& e) {
    EXPECT_EQ(e.code(), Exit::bucket_taken);
    EXPECT_NE(std::string(e.what()).find("--bucket NAME"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace hoist::job
