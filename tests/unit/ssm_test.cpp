// The SSM client against moto, which ships AWS's public Amazon Linux AMI
// parameters (moto/ssm/resources/ami-amazon-linux-latest) but not the Deep
// Learning AMI ones.
#include "aws/ssm.hpp"

#include <gtest/gtest.h>

#include "aws/ec2.hpp"
#include "support/moto_server.hpp"

namespace hoist::aws {
namespace {

constexpr const char* kX86 = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64";
constexpr const char* kArm = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64";
constexpr const char* kGpu =
    "/aws/service/deeplearning/ami/x86_64/base-oss-nvidia-driver-gpu-amazon-linux-2023/latest/ami-id";

class SsmTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto& moto = test::MotoServer::instance();
    session_ = moto.session();
    ssm_ = std::make_unique<Ssm>(session_);
  }
  std::shared_ptr<Session> session_;
  std::unique_ptr<Ssm> ssm_;
};

TEST_F(SsmTest, AmazonLinuxAmisExistInEc2) {
  auto x86 = ssm_->get_parameter(kX86);
  auto arm = ssm_->get_parameter(kArm);
  ASSERT_TRUE(x86);
  ASSERT_TRUE(arm);
  EXPECT_TRUE(x86->starts_with("ami-"));
  // The emulator's EC2 knows these images, with the right architecture.
  Ec2 ec2(session_);
  auto images = ec2.describe_images({*x86, *arm});
  ASSERT_EQ(images.size(), 2u);
  for (const auto& image : images) EXPECT_EQ(image.architecture, image.id == *x86 ? "x86_64" : "arm64");
}

TEST_F(SsmTest, MissingParameterIsNullopt) {
  EXPECT_FALSE(ssm_->get_parameter(kGpu));
  EXPECT_FALSE(ssm_->get_parameter("/hoist/does/not/exist"));
}

TEST_F(SsmTest, GetParametersInOneCall) {
  std::vector<std::string> names{kX86, kArm, kGpu};
  auto values = ssm_->get_parameters(names);
  EXPECT_EQ(values.size(), 2u);
  EXPECT_EQ(values.at(kX86), *ssm_->get_parameter(kX86));
  EXPECT_EQ(values.at(kArm), *ssm_->get_parameter(kArm));
  EXPECT_EQ(values.count(kGpu), 0u);
  EXPECT_TRUE(ssm_->get_parameters({}).empty());
}

}  // namespace
}  // namespace hoist::aws
