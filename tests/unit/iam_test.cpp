// The IAM client against moto: race-safe creates (a second create reports
// "already exists" without throwing), not-found as nullopt/false, policy
// documents decoded, pagination.
#include "aws/iam.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "aws/error.hpp"
#include "support/moto_server.hpp"

namespace hoist::aws {
namespace {

constexpr const char* kTrust =
    R"({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]})";
// Characters that must survive IAM's percent-encoding: & + % and spaces.
constexpr const char* kPolicy =
    R"({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject","s3:PutObject"],"Resource":"arn:aws:s3:::hoist-1+2&3 %x/*"}]})";

class IamTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto& moto = test::MotoServer::instance();
    iam_ = std::make_unique<Iam>(moto.session());
  }
  static std::string unique(const std::string& base) {
    static int n = 0;
    return base + "-" + std::to_string(::getpid()) + "-" + std::to_string(++n);
  }
  static RoleSpec spec(const std::string& name, const std::string& path = "/hoist/") {
    RoleSpec s;
    s.name = name;
    s.path = path;
    s.assume_role_policy = kTrust;
    s.description = "hoist instance role";
    s.tags = {{"hoist:managed", "true"}};
    s.max_session_seconds = 7200;
    return s;
  }
  std::unique_ptr<Iam> iam_;
};

TEST_F(IamTest, CreateRoleTwiceReportsExisting) {
  std::string name = unique("role");
  EXPECT_FALSE(iam_->get_role(name));
  EXPECT_TRUE(iam_->create_role(spec(name)));
  EXPECT_FALSE(iam_->create_role(spec(name)));  // the race's loser: no exception

  auto role = iam_->get_role(name);
  ASSERT_TRUE(role);
  EXPECT_EQ(role->name, name);
  EXPECT_EQ(role->path, "/hoist/");
  EXPECT_TRUE(role->arn.ends_with(":role/hoist/" + name)) << role->arn;
  EXPECT_FALSE(role->role_id.empty());
  EXPECT_EQ(role->tags.at("hoist:managed"), "true");
  EXPECT_EQ(nlohmann::json::parse(role->assume_role_policy), nlohmann::json::parse(kTrust));

  iam_->tag_role(name, {{"hoist:version", "1"}});
  EXPECT_EQ(iam_->get_role(name)->tags.at("hoist:version"), "1");

  EXPECT_TRUE(iam_->delete_role(name));
  EXPECT_FALSE(iam_->delete_role(name));
  EXPECT_FALSE(iam_->get_role(name));
}

TEST_F(IamTest, InlinePolicies) {
  std::string name = unique("polrole");
  ASSERT_TRUE(iam_->create_role(spec(name)));
  EXPECT_FALSE(iam_->get_role_policy(name, "hoist"));
  EXPECT_TRUE(iam_->list_role_policies(name).empty());

  iam_->put_role_policy(name, "hoist", kPolicy);
  iam_->put_role_policy(name, "hoist", kPolicy);  // replacing is fine
  auto doc = iam_->get_role_policy(name, "hoist");
  ASSERT_TRUE(doc);
  EXPECT_EQ(nlohmann::json::parse(*doc), nlohmann::json::parse(kPolicy));
  EXPECT_EQ(iam_->list_role_policies(name), std::vector<std::string>{"hoist"});

  EXPECT_TRUE(iam_->delete_role_policy(name, "hoist"));
  EXPECT_FALSE(iam_->delete_role_policy(name, "hoist"));
  EXPECT_TRUE(iam_->list_role_policies(name).empty());
  EXPECT_TRUE(iam_->delete_role(name));
}

TEST_F(IamTest, InstanceProfileLifecycle) {
  std::string role = unique("prole");
  std::string profile = unique("profile");
  ASSERT_TRUE(iam_->create_role(spec(role)));
  EXPECT_FALSE(iam_->get_instance_profile(profile));
  EXPECT_TRUE(iam_->create_instance_profile(profile, "/hoist/", {{"hoist:managed", "true"}}));
  EXPECT_FALSE(iam_->create_instance_profile(profile, "/hoist/"));

  EXPECT_TRUE(iam_->add_role_to_instance_profile(profile, role));
  EXPECT_FALSE(iam_->add_role_to_instance_profile(profile, role));  // already there

  auto p = iam_->get_instance_profile(profile);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->name, profile);
  EXPECT_EQ(p->path, "/hoist/");
  EXPECT_TRUE(p->arn.ends_with(":instance-profile/hoist/" + profile)) << p->arn;
  EXPECT_EQ(p->roles, std::vector<std::string>{role});

  // A role still in a profile cannot be deleted.
  try {
    iam_->delete_role(role);
    FAIL() << "expected DeleteConflict";
  } catch (const AwsError& e) {
    EXPECT_EQ(e.code, "DeleteConflict");
  }

  EXPECT_TRUE(iam_->remove_role_from_instance_profile(profile, role));
  EXPECT_TRUE(iam_->get_instance_profile(profile)->roles.empty());
  EXPECT_TRUE(iam_->delete_instance_profile(profile));
  EXPECT_FALSE(iam_->delete_instance_profile(profile));
  EXPECT_FALSE(iam_->get_instance_profile(profile));
  EXPECT_TRUE(iam_->delete_role(role));
}

TEST_F(IamTest, ListsFilterByPathAndFollowPages) {
  std::string path = "/" + unique("list") + "/";
  std::vector<std::string> names;
  for (int i = 0; i < 5; ++i) {
    names.push_back(unique("lrole"));
    ASSERT_TRUE(iam_->create_role(spec(names.back(), path)));
  }
  ASSERT_TRUE(iam_->create_role(spec(unique("elsewhere"), "/other/")));
  auto roles = iam_->list_roles(path, /*page_size=*/2);
  std::vector<std::string> got;
  got.reserve(roles.size());
  for (const auto& r : roles) got.push_back(r.name);
  std::sort(got.begin(), got.end());
  std::sort(names.begin(), names.end());  // "-10" sorts before "-9"
  EXPECT_EQ(got, names);

  std::string profile = unique("lprofile");
  ASSERT_TRUE(iam_->create_instance_profile(profile, path));
  ASSERT_TRUE(iam_->create_instance_profile(unique("lother"), "/other/"));
  auto profiles = iam_->list_instance_profiles(path, 1);
  ASSERT_EQ(profiles.size(), 1u);
  EXPECT_EQ(profiles[0].name, profile);
}

}  // namespace
}  // namespace hoist::aws
