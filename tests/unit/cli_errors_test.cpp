// What main prints and exits with for each failure that reaches it: the
// exit statuses of README.md's table and hoist's advice on top of what the
// AWS layer says.
#include <gtest/gtest.h>

#include "aws/error.hpp"
#include "cli/errors.hpp"
#include "util/error.hpp"

namespace hoist::cli {
namespace {

int exit_of(const std::exception& e) {
  return report_error(e).exit_code;
}

TEST(ReportError, FatalKeepsItsCodeAndMessage) {
  const ErrorReport r = report_error(Fatal(Exit::script_missing, "no script main.py in /p"));
  EXPECT_EQ(r.exit_code, 12);
  EXPECT_EQ(r.line, "hoist: error: no script main.py in /p");
}

TEST(ReportError, EachKindOfAwsFailureHasItsExitStatus) {
  using aws::Failure;
  EXPECT_EQ(exit_of(Failure(Failure::config, "m")), 3);
  EXPECT_EQ(exit_of(Failure(Failure::denied, "m")), 5);
  EXPECT_EQ(exit_of(Failure(Failure::unreachable, "m")), 6);
  EXPECT_EQ(exit_of(Failure(Failure::bad_answer, "m")), 4);
  EXPECT_EQ(exit_of(Failure(Failure::unreadable_file, "m")), 13);
  EXPECT_EQ(exit_of(Failure(Failure::unwritable_file, "m")), 14);
  // A malformed s3:// URI is a bad option value, wherever it was parsed.
  EXPECT_EQ(exit_of(Failure(Failure::bad_input, "m")), 15);
  EXPECT_EQ(exit_of(Failure(Failure::no_such_object, "m")), 16);
  EXPECT_EQ(exit_of(Failure(Failure::bucket_taken, "m")), 17);
  EXPECT_EQ(report_error(Failure(Failure::config, "no AWS region")).line, "hoist: error: no AWS region");
}

TEST(ReportError, ATakenBucketSaysHowToChooseAnother) {
  const ErrorReport r = report_error(aws::Failure(
      aws::Failure::bucket_taken, "the S3 bucket b belongs to another AWS account (bucket names are global)"));
  EXPECT_EQ(r.line,
            "hoist: error: the S3 bucket b belongs to another AWS account (bucket names are global): choose another "
            "name with --bucket NAME (or HOIST_BUCKET, or bucket = \"NAME\" in hoist.toml)");
}

TEST(ReportError, AwsErrorsByWhatAwsSaid) {
  EXPECT_EQ(exit_of(aws::AwsError("ec2", "RunInstances", "UnauthorizedOperation", "", "", 403)), 5);
  EXPECT_EQ(exit_of(aws::AwsError("s3", "GetObject", "NetworkError", "refused", "", 0)), 6);
  EXPECT_EQ(exit_of(aws::AwsError("s3", "GetObject", "InternalError", "", "", 500)), 4);
  EXPECT_EQ(exit_of(aws::AwsError("s3", "GetObject", "NoSuchKey", "", "", 404)), 4);
}

// The hints that name hoist's commands, as they were before the AWS layer
// stopped knowing them.
TEST(ReportError, AwsHintsNameHoistsCommands) {
  auto line = [](const std::string& code, const std::string& message) {
    return report_error(aws::AwsError("iam", "CreateRole", code, message, "r-1", 403)).line;
  };
  EXPECT_EQ(line("AccessDenied", "User: u is not authorized to perform: iam:CreateRole on x"),
            "hoist: error: iam CreateRole failed: AccessDenied: User: u is not authorized to perform: iam:CreateRole "
            "on x (HTTP 403, request id r-1). The credentials lack the permission iam:CreateRole; `hoist iam-policy` "
            "prints the policy hoist needs.");
  EXPECT_EQ(line("AccessDenied", "no"),
            "hoist: error: iam CreateRole failed: AccessDenied: no (HTTP 403, request id r-1). The credentials lack a "
            "permission hoist needs; `hoist iam-policy` prints the policy hoist needs.");
  EXPECT_EQ(line("SignatureDoesNotMatch", ""),
            "hoist: error: iam CreateRole failed: SignatureDoesNotMatch (HTTP 403, request id r-1). Check the secret "
            "access key in use (`hoist check` shows its source) and the system clock.");
  EXPECT_EQ(line("InvalidClientTokenId", ""),
            "hoist: error: iam CreateRole failed: InvalidClientTokenId (HTTP 403, request id r-1). The access key is "
            "not valid here: check which credentials are in use with `hoist check`, and that the region is enabled "
            "for the account (regions opened since 2019, such as af-south-1 or ap-east-1, must be turned on first).");
}

TEST(ReportError, AnythingElseIsInternal) {
  const ErrorReport r = report_error(std::logic_error("oops"));
  EXPECT_EQ(r.exit_code, 70);
  EXPECT_EQ(r.line, "hoist: internal error: oops");
}

TEST(ReportError, RedactsCredentials) {
  const ErrorReport r = report_error(Fatal(Exit::aws, "GET /k?X-Amz-Signature=abc123&x=1"));
  EXPECT_EQ(r.line, "hoist: error: GET /k?X-Amz-Signature=[redacted]&x=1");
  EXPECT_EQ(report_error(std::runtime_error("Authorization: AWS4 k")).line,
            "hoist: internal error: Authorization: [redacted]");
}

}  // namespace
}  // namespace hoist::cli
