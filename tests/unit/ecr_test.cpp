// The ECR client against moto: race-safe repository creation, lifecycle
// policy, image lookup by tag, listing, deletion and the login token.
#include "aws/ecr.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "aws/error.hpp"
#include "support/moto_server.hpp"

namespace hoist::aws {
namespace {

// A minimal image manifest: enough for PutImage to record a tagged image.
std::string manifest(char digest_char) {
  return nlohmann::json{{"schemaVersion", 2},
                        {"mediaType", "application/vnd.docker.distribution.manifest.v2+json"},
                        {"config",
                         {{"mediaType", "application/vnd.docker.container.image.v1+json"},
                          {"size", 1},
                          {"digest", "sha256:" + std::string(64, digest_char)}}},
                        {"layers", nlohmann::json::array()}}
      .dump();
}

RepositorySpec spec(const std::string& name, const Tags& tags = {}, bool scan_on_push = false) {
  RepositorySpec s;
  s.name = name;
  s.tags = tags;
  s.scan_on_push = scan_on_push;
  return s;
}

EcrImageId tagged(const std::string& tag) {
  EcrImageId id;
  id.tag = tag;
  return id;
}

class EcrTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto& moto = test::MotoServer::instance();
    ecr_ = std::make_unique<Ecr>(moto.session());
  }
  static std::string unique(const std::string& base) {
    static int n = 0;
    return "hoist/" + base + "-" + std::to_string(::getpid()) + "-" + std::to_string(++n);
  }
  std::unique_ptr<Ecr> ecr_;
};

TEST_F(EcrTest, CreateTwiceReturnsExisting) {
  std::string name = unique("proj");
  EXPECT_FALSE(ecr_->describe_repository(name));
  auto first = ecr_->create_repository(spec(name, {{"hoist:managed", "true"}}, true));
  EXPECT_TRUE(first.created);
  EXPECT_EQ(first.repository.name, name);
  EXPECT_TRUE(first.repository.uri.ends_with(".dkr.ecr.us-east-1.amazonaws.com/" + name)) << first.repository.uri;
  EXPECT_TRUE(first.repository.arn.ends_with(":repository/" + name));
  EXPECT_FALSE(first.repository.registry_id.empty());

  auto second = ecr_->create_repository(spec(name));
  EXPECT_FALSE(second.created);
  EXPECT_EQ(second.repository.uri, first.repository.uri);

  auto described = ecr_->describe_repository(name);
  ASSERT_TRUE(described);
  EXPECT_EQ(described->arn, first.repository.arn);

  EXPECT_TRUE(ecr_->delete_repository(name, false));
  EXPECT_FALSE(ecr_->delete_repository(name, false));
  EXPECT_FALSE(ecr_->describe_repository(name));
}

TEST_F(EcrTest, LifecyclePolicy) {
  std::string name = unique("life");
  ecr_->create_repository(spec(name));
  EXPECT_FALSE(ecr_->get_lifecycle_policy(name));
  std::string policy = keep_last_images_policy(5);
  auto parsed = nlohmann::json::parse(policy);
  EXPECT_EQ(parsed["rules"][0]["selection"]["countNumber"], 5);
  EXPECT_EQ(parsed["rules"][0]["selection"]["countType"], "imageCountMoreThan");
  ecr_->put_lifecycle_policy(name, policy);
  auto got = ecr_->get_lifecycle_policy(name);
  ASSERT_TRUE(got);
  EXPECT_EQ(nlohmann::json::parse(*got), parsed);
  ecr_->delete_repository(name, true);
}

TEST_F(EcrTest, ImagesByTag) {
  std::string name = unique("img");
  ecr_->create_repository(spec(name));
  EXPECT_FALSE(ecr_->image_exists(name, "key1"));
  EXPECT_TRUE(ecr_->list_images(name).empty());

  std::string digest = ecr_->put_image(name, "key1", manifest('a'));
  EXPECT_TRUE(digest.starts_with("sha256:"));
  ecr_->put_image(name, "key2", manifest('b'));
  EXPECT_TRUE(ecr_->image_exists(name, "key1"));
  EXPECT_TRUE(ecr_->image_exists(name, "key2"));
  EXPECT_FALSE(ecr_->image_exists(name, "key3"));

  auto images = ecr_->list_images(name);
  std::vector<std::string> tags;
  tags.reserve(images.size());
  for (const auto& i : images) tags.push_back(i.tag);
  std::sort(tags.begin(), tags.end());
  EXPECT_EQ(tags, (std::vector<std::string>{"key1", "key2"}));

  // One real, one missing: the missing one is a failure entry, not an error.
  EXPECT_EQ(ecr_->batch_delete_image(name, {tagged("key1"), tagged("nope")}), 1u);
  EXPECT_FALSE(ecr_->image_exists(name, "key1"));
  EXPECT_TRUE(ecr_->image_exists(name, "key2"));

  // A repository with images goes only with force.
  EXPECT_THROW(ecr_->delete_repository(name, false), AwsError);
  EXPECT_TRUE(ecr_->delete_repository(name, true));
}

TEST_F(EcrTest, MissingRepository) {
  std::string name = unique("missing");
  try {
    ecr_->image_exists(name, "x");
    FAIL() << "expected RepositoryNotFoundException";
  } catch (const AwsError& e) {
    EXPECT_EQ(e.code, "RepositoryNotFoundException");
  }
}

TEST_F(EcrTest, AuthorizationToken) {
  auto auth = ecr_->get_authorization_token();
  EXPECT_EQ(auth.user, "AWS");
  EXPECT_FALSE(auth.password.empty());
  EXPECT_TRUE(auth.endpoint.starts_with("https://")) << auth.endpoint;
  EXPECT_GT(auth.expires_at, 0);
}

}  // namespace
}  // namespace hoist::aws
