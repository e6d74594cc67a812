// The IAM policy `hoist iam-policy` prints: its conditions, which moto does
// not evaluate, asserted here.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "job/account.hpp"

namespace {

using nlohmann::json;

json policy() {
  hoist::job::AccountFacts facts;
  facts.account_id = "123456789012";
  facts.region = "us-east-1";
  facts.partition = "aws";
  return json::parse(hoist::job::user_policy(facts));
}

bool allows(const json& statement, const std::string& action) {
  const json& a = statement.at("Action");
  if (a.is_string()) return a == action;
  for (const auto& x : a)
    if (x == action) return true;
  return false;
}

std::vector<std::string> resources(const json& statement) {
  const json& r = statement.at("Resource");
  if (r.is_string()) return {r.get<std::string>()};
  return r.get<std::vector<std::string>>();
}

TEST(UserPolicy, TagsOnlyAsPartOfALaunch) {
  int tagging = 0;
  const json p = policy();
  for (const auto& s : p["Statement"]) {
    if (!allows(s, "ec2:CreateTags")) continue;
    ++tagging;
    // Without this condition hoist:managed=true could be put on anybody's
    // instance, which EndOwnInstances would then let its holder terminate.
    ASSERT_TRUE(s.contains("Condition")) << s.dump();
    EXPECT_EQ(s["Condition"]["StringEquals"]["ec2:CreateAction"], "RunInstances") << s.dump();
    for (const auto& r : resources(s)) EXPECT_NE(r, "*") << s.dump();
  }
  EXPECT_EQ(tagging, 1);
}

TEST(UserPolicy, InstancesAreLaunchedOnlyTaggedAndSpotRequestsAreAllowed) {
  bool instance = false, spot_request = false;
  const json p = policy();
  for (const auto& s : p["Statement"]) {
    if (!allows(s, "ec2:RunInstances")) continue;
    for (const auto& r : resources(s)) {
      if (r.find(":instance/") != std::string::npos) {
        instance = true;
        EXPECT_EQ(s["Condition"]["StringEquals"]["aws:RequestTag/hoist:managed"], "true") << s.dump();
      }
      if (r.find(":spot-instances-request/") != std::string::npos) spot_request = true;
      EXPECT_NE(r, "*") << s.dump();
    }
  }
  EXPECT_TRUE(instance);
  EXPECT_TRUE(spot_request) << "--spot launches make a spot-instances-request";
}

TEST(UserPolicy, TerminatesOnlyHoistsInstances) {
  const json p = policy();
  for (const auto& s : p["Statement"]) {
    if (!allows(s, "ec2:TerminateInstances")) continue;
    EXPECT_EQ(s["Condition"]["StringEquals"]["aws:ResourceTag/hoist:managed"], "true") << s.dump();
  }
}

}  // namespace
