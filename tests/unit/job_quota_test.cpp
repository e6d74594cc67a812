// EC2's quota errors: the quota each type counts against, and one line
// naming it, the vCPUs needed, the limit EC2 says and how to ask for more.
#include <gtest/gtest.h>

#include "aws/error.hpp"
#include "job/quota.hpp"
#include "util/error.hpp"

using namespace hoist;
using namespace hoist::job;

namespace {
InstancePlan plan_of(const std::string& type, int vcpus, bool spot) {
  InstancePlan p;
  p.type = {type, vcpus, 16, 0, "", 0, 0, "x86_64"};
  p.spot = spot;
  return p;
}
aws::AwsError error(const std::string& code, const std::string& message) {
  return {"ec2", "RunInstances", code, message, "r-1", 400};
}
}  // namespace

TEST(PlannerQuota, EachTypeCountsAgainstItsFamilysQuota) {
  EXPECT_EQ(quota_for("m7i.xlarge", false).code, "L-1216C47A");
  EXPECT_EQ(quota_for("t3.medium", true).code, "L-34B43A08");
  EXPECT_EQ(quota_for("g5.xlarge", false).code, "L-DB2E81BA");
  EXPECT_EQ(quota_for("vt1.3xlarge", false).code, "L-DB2E81BA");
  EXPECT_EQ(quota_for("g4dn.xlarge", true).code, "L-3819A6DF");
  EXPECT_EQ(quota_for("p4d.24xlarge", false).code, "L-417A185B");
  EXPECT_EQ(quota_for("p5.48xlarge", true).code, "L-7212CCBC");
  EXPECT_EQ(quota_for("inf2.xlarge", false).name, "Running On-Demand Inf instances");
  EXPECT_EQ(quota_for("x2idn.16xlarge", true).name, "All X Spot Instance Requests");
  EXPECT_EQ(quota_for("u-6tb1.56xlarge", false).name, "Running On-Demand High Memory instances");
}

TEST(PlannerQuota, AQuotaErrorReadsAsOneLineAndOthersAreLeftAlone) {
  const auto gpu = plan_of("g5.xlarge", 4, false);
  const auto m = quota_message(error("VcpuLimitExceeded",
                                     "You have requested more vCPU capacity than your current vCPU limit of 8 allows "
                                     "for the instance bucket that the specified instance type belongs to."),
                               gpu, "eu-west-1");
  ASSERT_TRUE(m);
  EXPECT_EQ(
      *m,
      "the account's EC2 quota \"Running On-Demand G and VT instances\" (L-DB2E81BA) in eu-west-1 has no room for "
      "a g5.xlarge, which needs 4 vCPUs (VcpuLimitExceeded; the limit is 8 vCPUs, those running included): ask "
      "for more with `aws service-quotas request-service-quota-increase --region eu-west-1 --service-code ec2 "
      "--quota-code L-DB2E81BA --desired-value 12` (or the Service Quotas console), end other instances, or pick "
      "a smaller type");
  // A quota without a known code: named, and where to find it.
  const auto inf = quota_message(error("VcpuLimitExceeded", "over"), plan_of("inf2.xlarge", 4, false), "us-east-2");
  ASSERT_TRUE(inf);
  EXPECT_NE(inf->find("Service Quotas console (Amazon EC2, \"Running On-Demand Inf instances\", region us-east-2)"),
            std::string::npos)
      << *inf;
  EXPECT_FALSE(quota_message(error("InsufficientInstanceCapacity", "none"), gpu, "eu-west-1"));
  // As a Fatal with its own exit code; anything else passes through.
  try {
    raise_if_quota(std::make_exception_ptr(error("MaxSpotInstanceCountExceeded", "Max spot instance count exceeded")),
                   plan_of("m7i.large", 2, true), "us-east-1");
    FAIL();
  } catch (const Fatal& e) {
    EXPECT_EQ(e.code(), Exit::quota);
    EXPECT_NE(std::string(e.what()).find("(L-34B43A08)"), std::string::npos);
  }
  EXPECT_NO_THROW(raise_if_quota(std::make_exception_ptr(std::runtime_error("x")), gpu, "us-east-1"));
}
