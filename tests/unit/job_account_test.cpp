// The IAM policy `hoist iam-policy` prints: its conditions, which moto does
// not evaluate, asserted here.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

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
  return std::any_of(a.begin(), a.end(), [&](const json& x) { return x == action; });
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
  bool instance = false;
  bool spot_request = false;
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

// --- A small IAM evaluator, enough for hoist's documents ------------------
// An explicit Deny wins; else any Allow whose action, resource and every
// condition (StringEquals, StringLike; a key the request lacks fails)
// match; else denied. Actions match without regard to case. Policy
// variables (${aws:PrincipalTag/hoist:job}) in resources and condition
// values take the context's value; one it lacks matches nothing.
namespace iam_eval {

using Context = std::map<std::string, std::string>;

bool glob(std::string_view pattern, std::string_view value, bool fold_case = false) {
  auto eq = [&](char a, char b) { return fold_case ? std::tolower(a) == std::tolower(b) : a == b; };
  std::size_t p = 0;
  std::size_t v = 0;
  std::size_t star = std::string_view::npos;
  std::size_t mark = 0;
  while (v < value.size()) {
    if (p < pattern.size() && (pattern[p] == '?' || eq(pattern[p], value[v]))) {
      ++p, ++v;
    } else if (p < pattern.size() && pattern[p] == '*') {
      star = p++, mark = v;
    } else if (star != std::string_view::npos) {
      p = star + 1, v = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

std::string substitute(std::string text, const Context& ctx) {
  for (std::size_t at = text.find("${"); at != std::string::npos; at = text.find("${", at)) {
    const std::size_t end = text.find('}', at);
    if (end == std::string::npos) break;
    const auto value = ctx.find(text.substr(at + 2, end - at - 2));
    // Unknown: a value no request has (a control character).
    const std::string with = value == ctx.end() ? std::string("\x01") : value->second;
    text.replace(at, end - at + 1, with);
    at += with.size();
  }
  return text;
}

std::vector<std::string> list(const json& j, const Context& ctx = {}) {
  std::vector<std::string> out =
      j.is_string() ? std::vector<std::string>{j.get<std::string>()} : j.get<std::vector<std::string>>();
  for (auto& v : out) v = substitute(v, ctx);
  return out;
}

bool applies(const json& st, const std::string& action, const std::string& resource, const Context& ctx) {
  auto any = [&ctx](const json& patterns, const std::string& v, bool fold) {
    return std::ranges::any_of(list(patterns, ctx), [&](const std::string& p) { return glob(p, v, fold); });
  };
  if (!any(st.at("Action"), action, true) || !any(st.at("Resource"), resource, false)) return false;
  if (!st.contains("Condition")) return true;
  for (const auto& [op, keys] : st["Condition"].items()) {
    for (const auto& [key, want] : keys.items()) {
      auto got = ctx.find(key);
      if (got == ctx.end()) return false;
      // By value: clang before 16 cannot capture a structured binding.
      const bool like = op == "StringLike";
      bool ok = std::ranges::any_of(
          list(want, ctx), [&](const std::string& w) { return like ? glob(w, got->second) : w == got->second; });
      if (!ok) return false;
    }
  }
  return true;
}

bool allowed(const json& doc, const std::string& action, const std::string& resource, const Context& ctx = {}) {
  bool allow = false;
  for (const auto& st : doc.at("Statement")) {
    if (!applies(st, action, resource, ctx)) continue;
    if (st.at("Effect") == "Deny") return false;
    allow = true;
  }
  return allow;
}

}  // namespace iam_eval

using iam_eval::allowed;

hoist::job::AccountFacts facts() {
  hoist::job::AccountFacts f;
  f.account_id = "123456789012";
  f.region = "us-east-1";
  f.partition = "aws";
  return f;
}

const std::string kArn = "arn:aws:iam::123456789012:";
const std::string kBoundary = kArn + "policy/hoist/hoist-job-boundary";
const std::string kJobRole = kArn + "role/hoist/jobs/wc-20261201-000000-abcd";
const std::string kBucket = "hoist-123456789012-us-east-1";

// Everything that would let a holder of the policy give themselves, or a
// role they launch, more than they have.
const std::vector<std::string> kEscalations = {"iam:CreateRole",
                                               "iam:PutRolePolicy",
                                               "iam:AttachRolePolicy",
                                               "iam:CreatePolicy",
                                               "iam:CreatePolicyVersion",
                                               "iam:SetDefaultPolicyVersion",
                                               "iam:DeletePolicy",
                                               "iam:PutRolePermissionsBoundary",
                                               "iam:DeleteRolePermissionsBoundary",
                                               "iam:UpdateAssumeRolePolicy",
                                               "iam:CreateUser",
                                               "iam:PutUserPolicy",
                                               "iam:AttachUserPolicy",
                                               "iam:CreateAccessKey",
                                               "iam:PutGroupPolicy",
                                               "iam:AddUserToGroup",
                                               "iam:CreateLoginProfile",
                                               "sts:AssumeRole"};
const std::vector<std::string> kAnyIamResource = {kJobRole,
                                                  kArn + "role/admin",
                                                  kArn + "role/hoist/hoist-instance-us-east-1",
                                                  kArn + "role/hoist/other",
                                                  kBoundary,
                                                  kArn + "policy/admin",
                                                  kArn + "user/alice",
                                                  kArn + "group/admins",
                                                  "*"};

TEST(UserPolicy, WritesNoRoleWithoutTheBoundary) {
  const json p = policy();
  for (const auto& action : kEscalations)
    for (const auto& resource : kAnyIamResource)
      EXPECT_FALSE(allowed(p, action, resource)) << action << " on " << resource;
}

TEST(UserPolicy, WritesOnlyJobRolesAndOnlyWithTheBoundary) {
  const json p = policy();
  const iam_eval::Context with_boundary = {{"iam:PermissionsBoundary", kBoundary}};
  const iam_eval::Context other_boundary = {{"iam:PermissionsBoundary", kArn + "policy/admin-ish"}};
  for (const std::string action : {"iam:CreateRole", "iam:PutRolePolicy"}) {
    EXPECT_TRUE(allowed(p, action, kJobRole, with_boundary)) << action;
    EXPECT_FALSE(allowed(p, action, kJobRole, other_boundary)) << action;
    EXPECT_FALSE(allowed(p, action, kArn + "role/hoist/other", with_boundary)) << action;
    EXPECT_FALSE(allowed(p, action, kArn + "role/admin", with_boundary)) << action;
  }
  // With the boundary on, nothing else of the list opens up.
  for (const auto& action : kEscalations) {
    if (action == "iam:CreateRole" || action == "iam:PutRolePolicy") continue;
    for (const auto& resource : kAnyIamResource)
      EXPECT_FALSE(allowed(p, action, resource, with_boundary)) << action << " on " << resource;
  }
}

TEST(UserPolicy, PassesOnlyJobRolesAndOnlyToEc2) {
  const json p = policy();
  const iam_eval::Context ec2 = {{"iam:PassedToService", "ec2.amazonaws.com"}};
  EXPECT_TRUE(allowed(p, "iam:PassRole", kJobRole, ec2));
  EXPECT_FALSE(allowed(p, "iam:PassRole", kJobRole, {{"iam:PassedToService", "lambda.amazonaws.com"}}));
  EXPECT_FALSE(allowed(p, "iam:PassRole", kJobRole));
  for (const auto& r : {kArn + "role/admin", kArn + "role/hoist/hoist-instance-us-east-1", kArn + "role/hoist/x"})
    EXPECT_FALSE(allowed(p, "iam:PassRole", r, ec2)) << r;
}

TEST(UserPolicy, TagsAndTerminatesOnlyWhatItLaunched) {
  const json p = policy();
  const std::string someone = "arn:aws:ec2:us-east-1:123456789012:instance/i-0123456789abcdef0";
  // Tagging somebody's instance hoist:managed=true, then ending it: both refused.
  EXPECT_FALSE(allowed(p, "ec2:CreateTags", someone, {{"aws:RequestTag/hoist:managed", "true"}}));
  EXPECT_TRUE(allowed(p, "ec2:CreateTags", someone, {{"ec2:CreateAction", "RunInstances"}}));
  EXPECT_FALSE(allowed(p, "ec2:TerminateInstances", someone));
  EXPECT_TRUE(allowed(p, "ec2:TerminateInstances", someone, {{"aws:ResourceTag/hoist:managed", "true"}}));
}

// What a job role can do: its inline policy and the boundary, both.
struct JobRole {
  json inline_policy, boundary;
  bool can(const std::string& action, const std::string& resource, const iam_eval::Context& ctx = {}) const {
    return allowed(inline_policy, action, resource, ctx) && allowed(boundary, action, resource, ctx);
  }
};

hoist::job::JobScope scope(std::size_t blobs = 3) {
  hoist::job::JobScope s;
  s.bucket = kBucket;
  s.job_id = "wc-20261201-000000-abcd";
  s.repository = "hoist/wc";
  for (std::size_t i = 0; i < blobs; ++i) s.blobs.push_back(std::string(63, 'a') + std::to_string(i % 10));
  s.output_s3 = "s3://" + kBucket + "/jobs/wc-20261201-000000-abcd/output/";
  return s;
}

JobRole role_of(const hoist::job::JobScope& s) {
  return {json::parse(hoist::job::job_role_policy(facts(), s)), json::parse(hoist::job::boundary_policy(facts(), {}))};
}

std::string object(const std::string& key) {
  return "arn:aws:s3:::" + kBucket + "/" + key;
}

TEST(JobRole, WritesOnlyUnderItsOwnPrefixAndReadsOnlyItsOwnRecord) {
  const JobRole r = role_of(scope());
  EXPECT_TRUE(r.can("s3:PutObject", object("jobs/wc-20261201-000000-abcd/status.json")));
  EXPECT_TRUE(r.can("s3:PutObject", object("jobs/wc-20261201-000000-abcd/output/a.csv")));
  EXPECT_TRUE(r.can("s3:GetObject", object("jobs/wc-20261201-000000-abcd/job.json")));
  for (const std::string& other :
       std::vector<std::string>{"jobs/wc-20261201-000000-wxyz/status.json", "jobs/wc-20261201-000000-abcd2/x",
                                "blobs/sha256/" + std::string(64, 'b'), "blobs/sets/x", "elsewhere"}) {
    EXPECT_FALSE(r.can("s3:PutObject", object(other))) << other;
    EXPECT_FALSE(r.can("s3:DeleteObject", object(other))) << other;
  }
  EXPECT_FALSE(r.can("s3:GetObject", object("jobs/wc-20261201-000000-wxyz/job.json")));
  EXPECT_FALSE(r.can("s3:ListBucket", "arn:aws:s3:::" + kBucket, {{"s3:prefix", "jobs/"}}));
}

TEST(JobRole, ReadsTheBlobsItsManifestNames) {
  const auto s = scope();
  const JobRole r = role_of(s);
  for (const auto& sha : s.blobs) EXPECT_TRUE(r.can("s3:GetObject", object("blobs/sha256/" + sha))) << sha;
  EXPECT_FALSE(r.can("s3:GetObject", object("blobs/sha256/" + std::string(64, 'c'))));
}

TEST(JobRole, AManifestTooLongToNameStaysInsideIamsLimitAndListsNothing) {
  const auto s = scope(2000);
  const std::string doc = hoist::job::job_role_policy(facts(), s);
  EXPECT_LE(doc.size(), hoist::job::kInlinePolicyLimit);
  const JobRole r = role_of(s);
  // Any blob whose hash it knows, then; but it can list none (nor read any
  // other job's record, where hashes are written).
  EXPECT_TRUE(r.can("s3:GetObject", object("blobs/sha256/" + std::string(64, 'c'))));
  EXPECT_FALSE(r.can("s3:ListBucket", "arn:aws:s3:::" + kBucket, {{"s3:prefix", "blobs/"}}));
  EXPECT_FALSE(r.can("s3:GetObject", object("jobs/wc-20261201-000000-wxyz/job.json")));
  // A small manifest is named blob by blob.
  EXPECT_NE(hoist::job::job_role_policy(facts(), scope(3)).find(std::string(63, 'a') + "0"), std::string::npos);
}

TEST(JobRole, PushesOnlyToItsProjectsRepositoryAndDoesNothingElse) {
  const JobRole r = role_of(scope());
  const std::string repos = "arn:aws:ecr:us-east-1:123456789012:repository/";
  EXPECT_TRUE(r.can("ecr:GetAuthorizationToken", "*"));
  EXPECT_TRUE(r.can("ecr:PutImage", repos + "hoist/wc"));
  EXPECT_TRUE(r.can("ecr:BatchGetImage", repos + "hoist/wc"));
  EXPECT_FALSE(r.can("ecr:PutImage", repos + "hoist/other"));
  EXPECT_FALSE(r.can("ecr:BatchGetImage", repos + "hoist/other"));
  EXPECT_FALSE(r.can("ecr:DeleteRepository", repos + "hoist/wc"));
  // Unused by the agent, so not granted: ending instances, logs.
  EXPECT_FALSE(r.can("ec2:TerminateInstances", "arn:aws:ec2:us-east-1:123456789012:instance/i-1"));
  EXPECT_FALSE(r.can("logs:PutLogEvents", "arn:aws:logs:us-east-1:123456789012:log-group:/hoist/x"));
}

TEST(JobRole, ReachesItsOwnForeignLocationsOnly) {
  auto s = scope();
  s.input_s3 = "s3://data/sets/wc/";
  s.output_s3 = "s3://results/runs/7/";
  const JobRole r = role_of(s);
  EXPECT_TRUE(r.can("s3:GetObject", "arn:aws:s3:::data/sets/wc/a.txt"));
  EXPECT_TRUE(r.can("s3:ListBucket", "arn:aws:s3:::data", {{"s3:prefix", "sets/wc/"}}));
  EXPECT_FALSE(r.can("s3:ListBucket", "arn:aws:s3:::data", {{"s3:prefix", "private/"}}));
  EXPECT_FALSE(r.can("s3:GetObject", "arn:aws:s3:::data/private/x"));
  EXPECT_TRUE(r.can("s3:PutObject", "arn:aws:s3:::results/runs/7/out.csv"));
  EXPECT_FALSE(r.can("s3:PutObject", "arn:aws:s3:::results/runs/8/out.csv"));
  EXPECT_FALSE(r.can("s3:PutObject", "arn:aws:s3:::data/sets/wc/a.txt"));
}

// --- A spot job's successor (--spot-retries): launched by its own role ---
const std::string kJob = "wc-20261201-000000-abcd";
const std::string kEc2 = "arn:aws:ec2:us-east-1:123456789012:";
const std::string kProfile = kArn + "instance-profile/hoist/jobs/";

// What RunInstances asks for an instance of `job` with `profile_of`'s
// profile and `type`, made by the role of `caller`.
iam_eval::Context launch(const std::string& job, const std::string& profile_of = kJob,
                         const std::string& type = "t3.medium", const std::string& caller = kJob) {
  return {{"aws:RequestTag/hoist:job", job},
          {"ec2:InstanceProfile", kProfile + profile_of},
          {"ec2:InstanceType", type},
          {"aws:PrincipalTag/hoist:job", caller}};
}

TEST(JobRole, ASpotJobsRoleLaunchesOnlyItsOwnSuccessor) {
  auto s = scope();
  EXPECT_FALSE(role_of(s).can("ec2:RunInstances", kEc2 + "instance/*", launch(kJob)));  // not without it
  s.successor = hoist::job::SuccessorScope{"us-east-1", "t3.medium", "ami-0123456789abcdef0"};
  const JobRole r = role_of(s);
  EXPECT_TRUE(r.can("ec2:RunInstances", kEc2 + "instance/*", launch(kJob)));
  EXPECT_TRUE(r.can("ec2:RunInstances", kEc2 + "volume/*", launch(kJob)));
  EXPECT_TRUE(r.can("ec2:RunInstances", "arn:aws:ec2:us-east-1::image/ami-0123456789abcdef0"));
  EXPECT_TRUE(r.can("ec2:RunInstances", kEc2 + "spot-instances-request/*"));
  EXPECT_TRUE(r.can("ec2:CreateTags", kEc2 + "instance/*", {{"ec2:CreateAction", "RunInstances"}}));
  const iam_eval::Context to_ec2 = {{"iam:PassedToService", "ec2.amazonaws.com"}, {"aws:PrincipalTag/hoist:job", kJob}};
  EXPECT_TRUE(r.can("iam:PassRole", kJobRole, to_ec2));
  // Nothing else: another job's tag or profile, another type or image,
  // another region, another role, another service, tags on what exists.
  EXPECT_FALSE(r.can("ec2:RunInstances", kEc2 + "instance/*", launch("wc-20261201-000000-wxyz")));
  EXPECT_FALSE(r.can("ec2:RunInstances", kEc2 + "instance/*", launch(kJob, "wc-20261201-000000-wxyz")));
  EXPECT_FALSE(r.can("ec2:RunInstances", kEc2 + "instance/*", launch(kJob, kJob, "p5.48xlarge")));
  EXPECT_FALSE(r.can("ec2:RunInstances", kEc2 + "volume/*", launch("wc-20261201-000000-wxyz")));
  EXPECT_FALSE(r.can("ec2:RunInstances", "arn:aws:ec2:us-east-1::image/ami-0fffffffffffffff0"));
  EXPECT_FALSE(r.can("ec2:RunInstances", "arn:aws:ec2:eu-west-1:123456789012:instance/*", launch(kJob)));
  EXPECT_FALSE(r.can("iam:PassRole", kArn + "role/hoist/jobs/wc-20261201-000000-wxyz", to_ec2));
  EXPECT_FALSE(r.can("iam:PassRole", kArn + "role/admin", to_ec2));
  EXPECT_FALSE(r.can("iam:PassRole", kJobRole,
                     {{"iam:PassedToService", "lambda.amazonaws.com"}, {"aws:PrincipalTag/hoist:job", kJob}}));
  EXPECT_FALSE(r.can("ec2:CreateTags", kEc2 + "instance/i-0123456789abcdef0"));
  EXPECT_FALSE(r.can("ec2:TerminateInstances", kEc2 + "instance/i-0123456789abcdef0"));
  for (const auto& action : kEscalations)
    for (const auto& resource : kAnyIamResource) EXPECT_FALSE(r.can(action, resource)) << action;
}

TEST(JobRole, RemovesOnlyItsOwnCheckpointsOldContents) {
  const JobRole r = role_of(scope());
  EXPECT_TRUE(r.can("s3:DeleteObject", object("jobs/" + kJob + "/checkpoint/" + std::string(64, 'a'))));
  for (const std::string& other :
       {"jobs/wc-20261201-000000-wxyz/checkpoint/" + std::string(64, 'a'), "jobs/" + kJob + "/checkpoint.json",
        "jobs/" + kJob + "/status.json", "jobs/" + kJob + "/output/a.csv", "blobs/sha256/" + std::string(64, 'a')})
    EXPECT_FALSE(r.can("s3:DeleteObject", object(other))) << other;
}

TEST(JobRole, PublishesOnlyToTheNotificationTopicAndOnlyWhenAsked) {
  const std::string topic = "arn:aws:sns:us-east-1:123456789012:hoist-notifications";
  EXPECT_FALSE(role_of(scope()).can("sns:Publish", topic));
  auto s = scope();
  s.notify_topic = topic;
  const JobRole r = role_of(s);
  EXPECT_TRUE(r.can("sns:Publish", topic));
  EXPECT_FALSE(r.can("sns:Publish", "arn:aws:sns:us-east-1:123456789012:someone-elses"));
  EXPECT_FALSE(r.can("sns:Subscribe", topic));
  EXPECT_FALSE(r.can("sns:DeleteTopic", topic));
  // Whatever a job role is written with, the boundary keeps it to that topic.
  const JobRole everything{json::parse(R"({"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})"),
                           json::parse(hoist::job::boundary_policy(facts(), {}))};
  EXPECT_TRUE(everything.can("sns:Publish", topic));
  EXPECT_FALSE(everything.can("sns:Publish", "arn:aws:sns:us-east-1:123456789012:someone-elses"));
  EXPECT_FALSE(everything.can("sns:Subscribe", topic));
}

TEST(JobRole, ReachesSessionManagerOnlyWithKeepInstance) {
  EXPECT_FALSE(role_of(scope()).can("ssmmessages:OpenDataChannel", "*"));
  auto s = scope();
  s.sessions = true;
  const JobRole r = role_of(s);
  EXPECT_TRUE(r.can("ssm:UpdateInstanceInformation", "*"));
  EXPECT_TRUE(r.can("ssmmessages:OpenDataChannel", "*"));
  EXPECT_FALSE(r.can("ssm:SendCommand", "*"));  // nothing that acts on another instance
  EXPECT_FALSE(r.can("ssm:StartSession", "*"));
  EXPECT_FALSE(r.can("ssm:GetParameter", "*"));
}

TEST(UserPolicy, KeepsTheNotificationTopicAndNothingElseOfSns) {
  const json p = json::parse(hoist::job::user_policy(facts()));
  const std::string topic = "arn:aws:sns:us-east-1:123456789012:hoist-notifications";
  for (const std::string action :
       {"sns:CreateTopic", "sns:Subscribe", "sns:ListSubscriptionsByTopic", "sns:DeleteTopic"}) {
    EXPECT_TRUE(allowed(p, action, topic)) << action;
    EXPECT_FALSE(allowed(p, action, "arn:aws:sns:us-east-1:123456789012:other")) << action;
  }
  EXPECT_FALSE(allowed(p, "sns:Publish", topic));  // only the job's instance publishes
}

TEST(Boundary, EvenARoleWithEverythingLaunchesOnlyAsItsOwnJob) {
  const json b = json::parse(hoist::job::boundary_policy(facts(), {}));
  EXPECT_TRUE(hoist::job::boundary_allows_successor(b.dump()));
  const json everything = {{"Version", "2012-10-17"},
                           {"Statement", {{{"Effect", "Allow"}, {"Action", "*"}, {"Resource", "*"}}}}};
  const JobRole r{everything, b};
  const iam_eval::Context self = {{"aws:PrincipalTag/hoist:job", kJob}};
  EXPECT_TRUE(r.can("ec2:RunInstances", kEc2 + "instance/*", launch(kJob, kJob, "p5.48xlarge")));
  EXPECT_FALSE(
      r.can("ec2:RunInstances", kEc2 + "instance/*", launch("wc-20261201-000000-wxyz", "wc-20261201-000000-wxyz")));
  EXPECT_FALSE(r.can("ec2:RunInstances", kEc2 + "instance/*", launch(kJob, "wc-20261201-000000-wxyz")));
  auto untagged = launch(kJob);
  untagged.erase("aws:RequestTag/hoist:job");
  EXPECT_FALSE(r.can("ec2:RunInstances", kEc2 + "instance/*", untagged));
  // A role without the tag (none of hoist's) launches nothing.
  auto no_tag = launch(kJob);
  no_tag.erase("aws:PrincipalTag/hoist:job");
  EXPECT_FALSE(r.can("ec2:RunInstances", kEc2 + "instance/*", no_tag));
  auto pass = self;
  pass["iam:PassedToService"] = "ec2.amazonaws.com";
  EXPECT_TRUE(r.can("iam:PassRole", kJobRole, pass));
  EXPECT_FALSE(r.can("iam:PassRole", kArn + "role/hoist/jobs/wc-20261201-000000-wxyz", pass));
  EXPECT_FALSE(r.can("iam:PassRole", kArn + "role/admin", pass));
  EXPECT_FALSE(r.can("ec2:CreateTags", kEc2 + "instance/i-0123456789abcdef0", self));
  EXPECT_FALSE(r.can("ec2:TerminateInstances", kEc2 + "instance/i-0123456789abcdef0", self));
  EXPECT_FALSE(r.can("ec2:ModifyInstanceAttribute", kEc2 + "instance/i-0123456789abcdef0", self));
  EXPECT_FALSE(r.can("s3:DeleteObject", "arn:aws:s3:::" + kBucket + "/jobs/" + kJob + "/status.json"));
  // A boundary made before successors: told apart, so a run updates it.
  json old = b;
  auto& statements = old["Statement"];
  statements.erase(std::remove_if(statements.begin(), statements.end(),
                                  [](const json& st) { return st.value("Sid", "").starts_with("Successor"); }),
                   statements.end());
  EXPECT_FALSE(hoist::job::boundary_allows_successor(old.dump()));
}

TEST(Boundary, CapsEveryJobRoleAtS3ObjectsAndHoistsImages) {
  const json b = json::parse(hoist::job::boundary_policy(facts(), {}));
  // Whatever a holder of the user policy writes into a job role: at most this.
  const json everything = {{"Version", "2012-10-17"},
                           {"Statement", {{{"Effect", "Allow"}, {"Action", "*"}, {"Resource", "*"}}}}};
  const JobRole r{everything, b};
  for (const auto& action : kEscalations)
    for (const auto& resource : kAnyIamResource) EXPECT_FALSE(r.can(action, resource)) << action;
  for (const std::string action : {"ec2:RunInstances", "ec2:TerminateInstances", "s3:DeleteBucket",
                                   "s3:PutBucketPolicy", "ecr:DeleteRepository", "kms:Decrypt"})
    EXPECT_FALSE(r.can(action, "*")) << action;
  EXPECT_FALSE(r.can("ecr:PutImage", "arn:aws:ecr:us-east-1:123456789012:repository/someone-elses"));
}

TEST(UserPolicy, CoversABucketChosenWithTheBucketOption) {
  auto f = facts();
  f.bucket = "team-hoist";
  const json p = json::parse(hoist::job::user_policy(f));
  EXPECT_TRUE(allowed(p, "s3:PutObject", "arn:aws:s3:::team-hoist/jobs/x/job.json"));
  EXPECT_TRUE(allowed(p, "s3:CreateBucket", "arn:aws:s3:::team-hoist"));
  EXPECT_TRUE(allowed(p, "s3:PutObject", object("blobs/sha256/x")));  // and the default name still
  EXPECT_FALSE(allowed(p, "s3:PutObject", "arn:aws:s3:::team-hoist-2/x"));
  const json b = json::parse(hoist::job::boundary_policy(f, {"data"}));
  EXPECT_TRUE(allowed(b, "s3:PutObject", "arn:aws:s3:::team-hoist/jobs/x/status.json"));
}

TEST(Boundary, NamesTheDataBucketsItWasGiven) {
  const auto f = facts();
  EXPECT_EQ(hoist::job::boundary_data_buckets(hoist::job::boundary_policy(f, {})), std::vector<std::string>{"*"});
  const auto named = hoist::job::boundary_data_buckets(hoist::job::boundary_policy(f, {"data", "results"}));
  EXPECT_EQ(named, (std::vector<std::string>{"data", "results"}));
  EXPECT_TRUE(hoist::job::data_bucket_allowed(named, "data"));
  EXPECT_FALSE(hoist::job::data_bucket_allowed(named, "secrets"));
  EXPECT_TRUE(hoist::job::data_bucket_allowed({"*"}, "secrets"));
  const JobRole r{json::parse(hoist::job::job_role_policy(f,
                                                          [] {
                                                            auto s = scope();
                                                            s.input_s3 = "s3://secrets/x/";
                                                            return s;
                                                          }())),
                  json::parse(hoist::job::boundary_policy(f, {"data"}))};
  EXPECT_FALSE(r.can("s3:GetObject", "arn:aws:s3:::secrets/x/a"));
  EXPECT_TRUE(r.can("s3:GetObject", object("jobs/wc-20261201-000000-abcd/job.json")));
}

}  // namespace
