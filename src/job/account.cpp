#include "job/account.hpp"

#include <future>
#include <nlohmann/json.hpp>

#include "aws/ecr.hpp"
#include "aws/error.hpp"
#include "aws/iam.hpp"
#include "aws/s3.hpp"
#include "job/naming.hpp"
#include "util/error.hpp"
#include "util/log.hpp"

namespace hoist::job {

using nlohmann::json;

std::string instance_trust_policy() {
  return json{
      {"Version", "2012-10-17"},
      {"Statement",
       {{{"Effect", "Allow"}, {"Principal", {{"Service", "ec2.amazonaws.com"}}}, {"Action", "sts:AssumeRole"}}}}}
      .dump();
}

std::string instance_policy(const AccountFacts& a, const std::string& bucket) {
  const std::string& p = a.partition;
  const std::string& r = a.region;
  const std::string& id = a.account_id;
  json statements = json::array({
      {{"Sid", "JobBucket"},
       {"Effect", "Allow"},
       {"Action", {"s3:ListBucket", "s3:GetBucketLocation"}},
       {"Resource", "arn:" + p + ":s3:::" + bucket}},
      {{"Sid", "JobObjects"},
       {"Effect", "Allow"},
       {"Action", {"s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"}},
       {"Resource", "arn:" + p + ":s3:::" + bucket + "/*"}},
      {{"Sid", "RegistryLogin"}, {"Effect", "Allow"}, {"Action", "ecr:GetAuthorizationToken"}, {"Resource", "*"}},
      {{"Sid", "ProjectImages"},
       {"Effect", "Allow"},
       {"Action",
        {"ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:DescribeImages",
         "ecr:InitiateLayerUpload", "ecr:UploadLayerPart", "ecr:CompleteLayerUpload", "ecr:PutImage"}},
       {"Resource", "arn:" + p + ":ecr:" + r + ":" + id + ":repository/hoist/*"}},
      {{"Sid", "EndItself"},
       {"Effect", "Allow"},
       {"Action", "ec2:TerminateInstances"},
       {"Resource", "arn:" + p + ":ec2:" + r + ":" + id + ":instance/*"},
       {"Condition", {{"StringEquals", {{"aws:ARN", "${ec2:SourceInstanceARN}"}}}}}},
      {{"Sid", "JobLogs"},
       {"Effect", "Allow"},
       {"Action", {"logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"}},
       {"Resource", "arn:" + p + ":logs:" + r + ":" + id + ":log-group:/hoist/*"}},
  });
  return json{{"Version", "2012-10-17"}, {"Statement", statements}}.dump();
}

namespace {
// "s3://b/p/x" -> ("b", "p/x").
std::pair<std::string, std::string> split_s3(const std::string& uri) {
  std::string rest = uri.substr(5);
  std::size_t slash = rest.find('/');
  if (slash == std::string::npos) return {rest, ""};
  return {rest.substr(0, slash), rest.substr(slash + 1)};
}
}  // namespace

std::string job_access_policy(const AccountFacts& a, const std::string& input_s3, const std::string& output_s3) {
  json statements = json::array();
  const std::string p = a.partition;
  if (!input_s3.empty()) {
    auto [b, k] = split_s3(input_s3);
    statements.push_back({{"Sid", "ReadInput"},
                          {"Effect", "Allow"},
                          {"Action", "s3:ListBucket"},
                          {"Resource", "arn:" + p + ":s3:::" + b},
                          {"Condition", {{"StringLike", {{"s3:prefix", k + "*"}}}}}});
    statements.push_back({{"Sid", "ReadInputObjects"},
                          {"Effect", "Allow"},
                          {"Action", "s3:GetObject"},
                          {"Resource", "arn:" + p + ":s3:::" + b + "/" + k + "*"}});
  }
  if (!output_s3.empty()) {
    auto [b, k] = split_s3(output_s3);
    statements.push_back({{"Sid", "WriteOutput"},
                          {"Effect", "Allow"},
                          {"Action", {"s3:PutObject", "s3:AbortMultipartUpload"}},
                          {"Resource", "arn:" + p + ":s3:::" + b + "/" + k + "*"}});
  }
  return json{{"Version", "2012-10-17"}, {"Statement", statements}}.dump();
}

std::string user_policy(const AccountFacts& a) {
  const std::string& p = a.partition;
  const std::string& id = a.account_id;
  const std::string r = a.region.empty() ? "*" : a.region;
  const std::string bucket = "arn:" + p + ":s3:::hoist-" + id + "-*";
  // What RunInstances makes that hoist tags: the instance and its volume.
  const json launched = {"arn:" + p + ":ec2:" + r + ":" + id + ":instance/*",
                         "arn:" + p + ":ec2:" + r + ":" + id + ":volume/*"};
  json statements = json::array({
      {{"Sid", "Identity"}, {"Effect", "Allow"}, {"Action", "sts:GetCallerIdentity"}, {"Resource", "*"}},
      {{"Sid", "Bucket"},
       {"Effect", "Allow"},
       {"Action",
        {"s3:CreateBucket", "s3:ListBucket", "s3:GetBucketLocation", "s3:PutBucketPublicAccessBlock",
         "s3:PutEncryptionConfiguration", "s3:PutBucketPolicy", "s3:PutLifecycleConfiguration", "s3:PutBucketTagging",
         "s3:GetBucketTagging", "s3:DeleteBucket", "s3:ListBucketMultipartUploads"}},
       {"Resource", bucket}},
      {{"Sid", "Objects"},
       {"Effect", "Allow"},
       {"Action", {"s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"}},
       {"Resource", bucket + "/*"}},
      {{"Sid", "FindRegistries"},
       {"Effect", "Allow"},
       {"Action", {"ecr:DescribeRepositories", "ecr:ListTagsForResource"}},
       {"Resource", "arn:" + p + ":ecr:" + r + ":" + id + ":repository/*"}},
      {{"Sid", "Registry"},
       {"Effect", "Allow"},
       {"Action",
        {"ecr:CreateRepository", "ecr:DescribeRepositories", "ecr:DescribeImages", "ecr:PutLifecyclePolicy",
         "ecr:PutImageTagMutability", "ecr:TagResource", "ecr:DeleteRepository", "ecr:BatchDeleteImage",
         "ecr:ListImages"}},
       {"Resource", "arn:" + p + ":ecr:" + r + ":" + id + ":repository/hoist/*"}},
      {{"Sid", "InstanceRole"},
       {"Effect", "Allow"},
       {"Action",
        {"iam:GetRole", "iam:CreateRole", "iam:TagRole", "iam:PutRolePolicy", "iam:DeleteRolePolicy",
         "iam:ListRolePolicies", "iam:DeleteRole", "iam:GetInstanceProfile", "iam:CreateInstanceProfile",
         "iam:TagInstanceProfile", "iam:AddRoleToInstanceProfile", "iam:RemoveRoleFromInstanceProfile",
         "iam:DeleteInstanceProfile"}},
       // With the path, as they are once they exist; by name alone too,
       // since a Get of one that does not exist yet (the first run's probe)
       // cannot know its path.
       {"Resource",
        {"arn:" + p + ":iam::" + id + ":role/hoist/*", "arn:" + p + ":iam::" + id + ":instance-profile/hoist/*",
         "arn:" + p + ":iam::" + id + ":role/hoist-instance-*",
         "arn:" + p + ":iam::" + id + ":instance-profile/hoist-instance-*"}}},
      {{"Sid", "PassOnlyTheInstanceRole"},
       {"Effect", "Allow"},
       {"Action", "iam:PassRole"},
       {"Resource", "arn:" + p + ":iam::" + id + ":role/hoist/*"},
       {"Condition", {{"StringEquals", {{"iam:PassedToService", "ec2.amazonaws.com"}}}}}},
      // The instance and its volume only when tagged as hoist's.
      {{"Sid", "Launch"},
       {"Effect", "Allow"},
       {"Action", "ec2:RunInstances"},
       {"Resource", launched},
       {"Condition", {{"StringEquals", {{"aws:RequestTag/hoist:managed", "true"}}}}}},
      // Tags only as part of that launch: never on an instance that exists,
      // where hoist:managed=true would hand it to EndOwnInstances (and to
      // hoist gc and down).
      {{"Sid", "TagAtLaunch"},
       {"Effect", "Allow"},
       {"Action", "ec2:CreateTags"},
       {"Resource", launched},
       {"Condition", {{"StringEquals", {{"ec2:CreateAction", "RunInstances"}}}}}},
      // What a launch reads or makes besides: --spot also makes a
      // spot-instances-request, which hoist does not tag.
      {{"Sid", "LaunchFrom"},
       {"Effect", "Allow"},
       {"Action", "ec2:RunInstances"},
       {"Resource",
        {"arn:" + p + ":ec2:" + r + "::image/*", "arn:" + p + ":ec2:" + r + ":" + id + ":subnet/*",
         "arn:" + p + ":ec2:" + r + ":" + id + ":security-group/*",
         "arn:" + p + ":ec2:" + r + ":" + id + ":network-interface/*",
         "arn:" + p + ":ec2:" + r + ":" + id + ":spot-instances-request/*"}}},
      {{"Sid", "EndOwnInstances"},
       {"Effect", "Allow"},
       {"Action", "ec2:TerminateInstances"},
       {"Resource", "*"},
       {"Condition", {{"StringEquals", {{"aws:ResourceTag/hoist:managed", "true"}}}}}},
      {{"Sid", "Read"},
       {"Effect", "Allow"},
       {"Action",
        {"ec2:DescribeInstances", "ec2:DescribeImages", "ec2:DescribeInstanceTypes", "ec2:DescribeSpotPriceHistory",
         "ssm:GetParameter"}},
       {"Resource", "*"}},
  });
  return json{{"Version", "2012-10-17"}, {"Statement", statements}}.dump(2);
}

namespace {
// create_bucket's settings as a version, tagged last: a bucket without it
// (a first run interrupted after CreateBucket, an older hoist) or with an
// older one gets every setting again. Raise it when the settings change.
constexpr const char* kHardeningTag = "hoist:hardening";
constexpr int kHardening = 1;

bool hardened(const std::map<std::string, std::string>& tags) {
  auto it = tags.find(kHardeningTag);
  if (it == tags.end()) return false;
  try {
    return std::stoi(it->second) >= kHardening;
  } catch (const std::exception&) {
    return false;
  }
}
}  // namespace

EnsureResult probe_bucket(const std::shared_ptr<aws::Session>& session, const std::string& bucket) {
  aws::S3 s3(session);
  // The tags with the HEAD, at once: convergence costs no extra wait. (An
  // std::async future waits in its destructor, so a HEAD that throws leaves
  // nothing running.)
  auto tags = std::async(std::launch::async, [&]() -> std::optional<std::map<std::string, std::string>> {
    try {
      return s3.bucket_tags(bucket);
    } catch (const aws::AwsError& e) {
      if (!e.is("AccessDenied")) throw;
      log::verbose("cannot read the tags of " + bucket + " (s3:GetBucketTagging): its settings are applied again");
      return std::map<std::string, std::string>{};
    }
  });
  const bool exists = s3.head_bucket(bucket);
  const auto t = tags.get();
  const std::string uri = "s3://" + bucket;
  if (!exists) return {false, uri};
  if (!t) return {true, uri, true};  // made between the two requests
  // What an interrupted run leaves has no tags at all; tags without ours
  // are someone else's bucket, whose policy, rules and tags hoist would
  // replace.
  if (!t->empty() && (!t->contains(kManagedTag) || t->at(kManagedTag) != "true"))
    throw Fatal(Exit::bucket_taken, "the S3 bucket " + bucket + " has tags but not " + kManagedTag +
                                        "=true: it is not hoist's, and hoist would replace its policy, lifecycle rules "
                                        "and tags; choose a bucket for hoist alone with --bucket NAME");
  return {true, uri, !hardened(*t)};
}

EnsureResult create_bucket(const std::shared_ptr<aws::Session>& session, const std::string& bucket, bool exists) {
  aws::S3 s3(session);
  aws::BucketSettings settings;
  settings.tags = managed_tags();
  settings.tags[kHardeningTag] = std::to_string(kHardening);
  // The policy denies every request not made over TLS, so it can only go on a
  // bucket reached over https (always, on AWS); a plain-http emulator would
  // lock itself out.
  settings.tls_only_policy = session->config.endpoint("s3").rfind("https://", 0) == 0;
  settings.exists = exists;
  bool created = s3.create_bucket(bucket, settings);
  return {!created, "s3://" + bucket};
}

EnsureResult probe_repository(const std::shared_ptr<aws::Session>& session, const std::string& repository) {
  aws::Ecr ecr(session);
  // One whose tags can be overwritten (made by an older hoist) is not ready:
  // create_repository makes them immutable.
  if (auto repo = ecr.describe_repository(repository)) return {repo->tag_mutability == "IMMUTABLE", repo->uri};
  return {false, repository};
}

EnsureResult create_repository(const std::shared_ptr<aws::Session>& session, const std::string& repository,
                               const std::string& project) {
  aws::Ecr ecr(session);
  auto tags = managed_tags();
  tags[kProjectTag] = project;
  aws::RepositorySpec spec;
  spec.name = repository;
  spec.tags = tags;
  spec.scan_on_push = true;
  // A tag, once pushed, names one image for good: two jobs that build the
  // same new key at once both run the image that was pushed first.
  spec.image_tag_mutability = "IMMUTABLE";
  auto created = ecr.create_repository(spec);
  if (!created.created && created.repository.tag_mutability != "IMMUTABLE")
    ecr.put_image_tag_mutability(repository, "IMMUTABLE");
  ecr.put_lifecycle_policy(repository, aws::keep_last_images_policy(10));
  return {!created.created, created.repository.uri};
}

EnsureResult probe_instance_profile(const std::shared_ptr<aws::Session>& session, const AccountFacts& account) {
  aws::Iam iam(session);
  const std::string name = role_name(account.region);
  // A profile without its role is what an interrupted run leaves: not there yet.
  auto profile = iam.get_instance_profile(name);
  if (profile && !profile->roles.empty()) return {true, profile->arn};
  return {false, name};
}

EnsureResult create_instance_profile(const std::shared_ptr<aws::Session>& session, const AccountFacts& account,
                                     const std::string& bucket) {
  aws::Iam iam(session);
  const std::string name = role_name(account.region);
  aws::RoleSpec spec;
  spec.name = name;
  spec.path = kIamPath;
  spec.assume_role_policy = instance_trust_policy();
  spec.description = "hoist job instances in " + account.region;
  spec.tags = managed_tags();
  // Three round trips: the role; then its policy and the profile together;
  // then the role into the profile.
  const bool created = iam.create_role(spec);
  // (A std::async future waits in its destructor: an error here leaves
  // nothing running.)
  auto profile = std::async(std::launch::async, [&] { iam.create_instance_profile(name, kIamPath, managed_tags()); });
  iam.put_role_policy(name, "hoist-instance", instance_policy(account, bucket));
  profile.get();
  iam.add_role_to_instance_profile(name, name);
  // RunInstances takes the profile by name as well as by ARN.
  return {!created, name};
}

}  // namespace hoist::job
