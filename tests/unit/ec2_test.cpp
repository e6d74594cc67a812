// The EC2 client against moto: a full RunInstances (user data, tags, spot,
// disk, IMDSv2), finding instances by tag across pages, images, instance
// types, spot prices, tags and termination.
#include "aws/ec2.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <iostream>
#include <map>
#include <stdexcept>

#include "aws/error.hpp"
#include "support/moto_server.hpp"

namespace hoist::aws {
namespace {

// AL2023 x86_64 in moto's us-east-1 images (moto/ec2/resources/latest_amis),
// the value of its SSM parameter al2023-ami-kernel-default-x86_64.
constexpr const char* kAmi = "ami-0ed094fb1304fd857";

class Ec2Test : public ::testing::Test {
 protected:
  void SetUp() override {
    auto& moto = test::MotoServer::instance();
    ec2_ = std::make_unique<Ec2>(moto.session());
  }
  // A tag value no other test uses, so tests need no reset between them.
  static std::string unique(const std::string& base) {
    static int n = 0;
    return base + "-" + std::to_string(::getpid()) + "-" + std::to_string(++n);
  }
  static RunArgs args(const std::string& job) {
    RunArgs a;
    a.image_id = kAmi;
    a.instance_type = "t3.micro";
    a.tags = {{"hoist:managed", "true"}, {"hoist:job", job}};
    return a;
  }
  std::unique_ptr<Ec2> ec2_;
};

TEST_F(Ec2Test, RunInstanceWithEverything) {
  std::string job = unique("full");
  RunArgs a = args(job);
  // Bytes that survive only if base64 is right: NUL, high bytes, a shell script.
  a.user_data = std::string("#!/bin/bash\necho 'hi'\n\0\xff\xfe\x01 end", 26);
  a.client_token = job;
  a.spot = true;
  a.disk_gib = 30;
  a.root_device_name = "/dev/xvda";

  Instance launched = ec2_->run_instance(a);
  ASSERT_TRUE(launched.id.starts_with("i-"));
  EXPECT_EQ(launched.instance_type, "t3.micro");
  EXPECT_EQ(launched.client_token, job);

  auto found = ec2_->describe_instance(launched.id);
  ASSERT_TRUE(found);
  EXPECT_EQ(found->state, "running");
  EXPECT_EQ(found->lifecycle, "spot");
  EXPECT_EQ(found->image_id, kAmi);
  EXPECT_EQ(found->tags.at("hoist:job"), job);
  EXPECT_EQ(found->tags.at("hoist:managed"), "true");
  EXPECT_FALSE(found->availability_zone.empty());
  EXPECT_FALSE(found->launch_time.empty());
  EXPECT_FALSE(found->private_ip.empty());

  EXPECT_EQ(ec2_->describe_user_data(launched.id), a.user_data);
}

TEST_F(Ec2Test, OnDemandHasNoLifecycle) {
  Instance launched = ec2_->run_instance(args(unique("od")));
  auto found = ec2_->describe_instance(launched.id);
  ASSERT_TRUE(found);
  EXPECT_EQ(found->lifecycle, "");
  EXPECT_EQ(ec2_->describe_user_data(launched.id), "");
}

TEST_F(Ec2Test, SameClientTokenCarriedOnBothInstances) {
  std::string job = unique("token");
  RunArgs a = args(job);
  a.client_token = job;
  a.user_data = "#!/bin/sh\ntrue\n";
  Instance first = ec2_->run_instance(a);
  Instance second = ec2_->run_instance(a);
  // Real EC2 returns the same instance for a repeated token; moto 5.2 ignores
  // ClientToken and launches another. Either way the token is on the
  // instance, so the job layer can find an earlier launch by it.
  if (first.id != second.id)
    std::cerr << "note: the emulator ignores ClientToken (" << first.id << " vs " << second.id << ")\n";
  auto all = ec2_->describe_instances({{"tag:hoist:job", {job}}});
  ASSERT_FALSE(all.empty());
  for (const auto& i : all) EXPECT_EQ(i.client_token, job);
}

TEST_F(Ec2Test, DescribeFollowsPages) {
  std::string job = unique("pages");
  std::vector<std::string> ids;
  ids.reserve(7);
  for (int i = 0; i < 7; ++i) ids.push_back(ec2_->run_instance(args(job)).id);
  auto found = ec2_->describe_instances({{"tag:hoist:job", {job}}, {"instance-state-name", {"pending", "running"}}}, {},
                                        /*page_size=*/5);
  ASSERT_EQ(found.size(), 7u);
  std::vector<std::string> got;
  got.reserve(found.size());
  for (const auto& i : found) got.push_back(i.id);
  std::sort(got.begin(), got.end());
  std::sort(ids.begin(), ids.end());
  EXPECT_EQ(got, ids);

  EXPECT_TRUE(ec2_->describe_instances({{"tag:hoist:job", {unique("nobody")}}}).empty());
}

TEST_F(Ec2Test, TerminateAndNotFound) {
  std::string job = unique("term");
  Instance launched = ec2_->run_instance(args(job));
  ec2_->terminate_instances({launched.id});
  auto found = ec2_->describe_instance(launched.id);
  ASSERT_TRUE(found);
  EXPECT_TRUE(found->state == "shutting-down" || found->state == "terminated") << found->state;
  ec2_->terminate_instances({});  // nothing to do, nothing sent

  EXPECT_FALSE(ec2_->describe_instance("i-0123456789abcdef0"));
  try {
    ec2_->describe_instances({}, {"i-0123456789abcdef0"});
    FAIL() << "expected InvalidInstanceID.NotFound";
  } catch (const AwsError& e) {
    EXPECT_EQ(e.code, "InvalidInstanceID.NotFound");
  }
}

TEST_F(Ec2Test, CreateTags) {
  Instance launched = ec2_->run_instance(args(unique("tags")));
  ec2_->create_tags({launched.id}, {{"hoist:phase", "running"}, {"Name", "hoist job"}});
  auto found = ec2_->describe_instance(launched.id);
  ASSERT_TRUE(found);
  EXPECT_EQ(found->tags.at("hoist:phase"), "running");
  EXPECT_EQ(found->tags.at("Name"), "hoist job");
}

TEST_F(Ec2Test, DescribeImages) {
  auto images = ec2_->describe_images({kAmi});
  ASSERT_EQ(images.size(), 1u);
  EXPECT_EQ(images[0].id, kAmi);
  EXPECT_EQ(images[0].architecture, "x86_64");
  EXPECT_EQ(images[0].root_device_name, "/dev/xvda");
  EXPECT_EQ(images[0].state, "available");
  EXPECT_EQ(images[0].root_volume_gib, 15);  // moto's Amazon Linux images
}

TEST_F(Ec2Test, DescribeInstanceTypes) {
  auto types = ec2_->describe_instance_types({"g4dn.xlarge", "t3.micro", "m7g.large"});
  ASSERT_EQ(types.size(), 3u);
  std::map<std::string, InstanceTypeInfo> by_name;
  for (const auto& t : types) by_name[t.name] = t;
  const auto& g = by_name.at("g4dn.xlarge");
  EXPECT_EQ(g.vcpus, 4);
  EXPECT_EQ(g.memory_mib, 16384);
  EXPECT_EQ(g.gpus, 1);
  EXPECT_EQ(g.gpu_name, "T4");
  EXPECT_EQ(g.gpu_manufacturer, "NVIDIA");
  EXPECT_EQ(g.gpu_memory_mib, 16384);
  EXPECT_EQ(g.architectures, std::vector<std::string>{"x86_64"});
  EXPECT_TRUE(g.spot_supported);
  const auto& t = by_name.at("t3.micro");
  EXPECT_EQ(t.vcpus, 2);
  EXPECT_EQ(t.memory_mib, 1024);
  EXPECT_EQ(t.gpus, 0);
  EXPECT_EQ(t.gpu_name, "");
  EXPECT_EQ(by_name.at("m7g.large").architectures, std::vector<std::string>{"arm64"});

  try {
    ec2_->describe_instance_types({"t3.nonsense"});
    FAIL() << "expected an error for an unknown type";
  } catch (const AwsError& e) {
    EXPECT_EQ(e.code, "InvalidInstanceType");
  }
}

TEST_F(Ec2Test, ListInstanceTypesWithFilters) {
  auto all = ec2_->list_instance_types();
  EXPECT_GT(all.size(), 200u);
  auto four = ec2_->list_instance_types(
      {{"vcpu-info.default-vcpus", {"4"}}, {"processor-info.supported-architecture", {"arm64"}}});
  ASSERT_FALSE(four.empty());
  EXPECT_LT(four.size(), all.size());
  for (const auto& t : four) {
    EXPECT_EQ(t.vcpus, 4) << t.name;
    EXPECT_NE(std::find(t.architectures.begin(), t.architectures.end(), "arm64"), t.architectures.end()) << t.name;
  }
}

// What moto's offerings (moto/ec2/resources/instance_type_offerings/region)
// say, per region: one request for several names.
TEST_F(Ec2Test, OfferedInstanceTypesPerRegion) {
  auto offered = ec2_->offered_instance_types({"t3.medium", "zz9.bogus", "m7g.large"});
  std::sort(offered.begin(), offered.end());
  EXPECT_EQ(offered, (std::vector<std::string>{"m7g.large", "t3.medium"}));
  EXPECT_TRUE(ec2_->offered_instance_types({}).empty());
  auto session = test::MotoServer::instance().session();
  session->region = "me-central-1";  // no t3 there
  EXPECT_EQ(Ec2(session).offered_instance_types({"t3.medium", "m5.large"}), std::vector<std::string>{"m5.large"});
}

TEST_F(Ec2Test, SpotPrices) {
  auto prices = ec2_->describe_spot_price_history({"t3.micro"});
  ASSERT_FALSE(prices.empty());
  for (const auto& p : prices) {
    EXPECT_EQ(p.instance_type, "t3.micro");
    EXPECT_FALSE(p.availability_zone.empty());
    EXPECT_GT(p.price, 0);
  }
}

TEST(Ec2RunArgs, Validate) {
  RunArgs a;
  EXPECT_THROW(a.validate(), std::invalid_argument);
  a.image_id = kAmi;
  a.instance_type = "t3.micro";
  EXPECT_NO_THROW(a.validate());
  a.disk_gib = 20;
  EXPECT_THROW(a.validate(), std::invalid_argument);  // no root device name
  a.root_device_name = "/dev/xvda";
  EXPECT_NO_THROW(a.validate());
  a.client_token = std::string(65, 'x');
  EXPECT_THROW(a.validate(), std::invalid_argument);
  a.client_token = "ok";
  a.user_data = std::string(16384, 'x');  // the limit is 16 KB raw, before base64
  EXPECT_NO_THROW(a.validate());
  a.user_data.push_back('x');
  EXPECT_THROW(a.validate(), std::invalid_argument);
}

}  // namespace
}  // namespace hoist::aws
