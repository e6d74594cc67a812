#include "job/account.hpp"

#include <algorithm>
#include <future>
#include <nlohmann/json.hpp>

#include "aws/ecr.hpp"
#include "aws/error.hpp"
#include "aws/iam.hpp"
#include "aws/s3.hpp"
#include "job/manifest.hpp"
#include "job/naming.hpp"
#include "job/record.hpp"
#include "job/reporter.hpp"
#include "util/error.hpp"

namespace hoist::job {

using nlohmann::json;

std::string instance_trust_policy() {
  return json{
      {"Version", "2012-10-17"},
      {"Statement",
       {{{"Effect", "Allow"}, {"Principal", {{"Service", "ec2.amazonaws.com"}}}, {"Action", "sts:AssumeRole"}}}}}
      .dump();
}

namespace {
// "s3://b/p/x" -> ("b", "p/x").
std::pair<std::string, std::string> split_s3(const std::string& uri) {
  std::string rest = uri.substr(5);
  std::size_t slash = rest.find('/');
  if (slash == std::string::npos) return {rest, ""};
  return {rest.substr(0, slash), rest.substr(slash + 1)};
}

std::string s3_arn(const AccountFacts& a, const std::string& bucket_and_key) {
  return "arn:" + a.partition + ":s3:::" + bucket_and_key;
}

// hoist's buckets: by the name they all share, and the one chosen with
// --bucket when there is one; their objects.
json hoist_buckets(const AccountFacts& a, const std::string& suffix = "") {
  json out = {s3_arn(a, "hoist-" + a.account_id + "-*" + suffix)};
  if (!a.bucket.empty()) out.push_back(s3_arn(a, a.bucket + suffix));
  return out;
}

std::string repository_arn(const AccountFacts& a, const std::string& name) {
  const std::string r = a.region.empty() ? "*" : a.region;
  return "arn:" + a.partition + ":ecr:" + r + ":" + a.account_id + ":repository/" + name;
}

std::string iam_arn(const AccountFacts& a, const std::string& what) {
  return "arn:" + a.partition + ":iam::" + a.account_id + ":" + what;
}

std::string topic_arn(const AccountFacts& a, const std::string& region) {
  return "arn:" + a.partition + ":sns:" + region + ":" + a.account_id + ":" + kNotifyTopic;
}

// What the agent does with a registry: log in, find, pull and push images.
json image_actions() {
  return {"ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage",   "ecr:GetDownloadUrlForLayer", "ecr:DescribeImages",
          "ecr:InitiateLayerUpload",         "ecr:UploadLayerPart", "ecr:CompleteLayerUpload",    "ecr:PutImage"};
}
constexpr const char* kReadObject = "s3:GetObject";
json write_object() {
  return {"s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"};
}
json read_write_object() {
  json actions = write_object();
  actions.insert(actions.begin(), kReadObject);
  return actions;
}

json registry_login() {
  return {{"Sid", "RegistryLogin"}, {"Effect", "Allow"}, {"Action", "ecr:GetAuthorizationToken"}, {"Resource", "*"}};
}

// Reading an s3:// location in place: listing under its prefix, and its objects.
void read_location(const AccountFacts& a, const std::string& uri, json& statements) {
  auto [b, k] = split_s3(uri);
  statements.push_back({{"Sid", "ListInput"},
                        {"Effect", "Allow"},
                        {"Action", "s3:ListBucket"},
                        {"Resource", s3_arn(a, b)},
                        {"Condition", {{"StringLike", {{"s3:prefix", k + "*"}}}}}});
  statements.push_back(
      {{"Sid", "ReadInput"}, {"Effect", "Allow"}, {"Action", kReadObject}, {"Resource", s3_arn(a, b + "/" + k + "*")}});
}

std::string ec2_arn(const AccountFacts& a, const std::string& region, const std::string& what, bool owned = true) {
  return "arn:" + a.partition + ":ec2:" + region + ":" + (owned ? a.account_id : "") + ":" + what;
}

// A successor's launch (SuccessorScope), in the boundary (`job` is the
// policy variable naming the caller's own job, its region "*") or in one
// job's role (its id, its region, and its type and image besides).
struct LaunchLimits {
  std::string job;
  std::string region = "*";
  std::string instance_type;  // "" in the boundary
  std::string image_id;       // "" in the boundary: any image
};

void successor_statements(const AccountFacts& a, const LaunchLimits& l, json& statements) {
  const std::string& r = l.region;
  const std::string profile = iam_arn(a, std::string("instance-profile") + kJobRolePath + l.job);
  json instance = {{"aws:RequestTag/hoist:job", l.job}, {"ec2:InstanceProfile", profile}};
  if (!l.instance_type.empty()) instance["ec2:InstanceType"] = l.instance_type;
  statements.push_back({{"Sid", kSuccessorSid},
                        {"Effect", "Allow"},
                        {"Action", "ec2:RunInstances"},
                        {"Resource", ec2_arn(a, r, "instance/*")},
                        {"Condition", {{"StringEquals", instance}}}});
  statements.push_back({{"Sid", "SuccessorVolume"},
                        {"Effect", "Allow"},
                        {"Action", "ec2:RunInstances"},
                        {"Resource", ec2_arn(a, r, "volume/*")},
                        {"Condition", {{"StringEquals", {{"aws:RequestTag/hoist:job", l.job}}}}}});
  statements.push_back({{"Sid", "SuccessorFrom"},
                        {"Effect", "Allow"},
                        {"Action", "ec2:RunInstances"},
                        {"Resource",
                         {ec2_arn(a, r, "image/" + (l.image_id.empty() ? std::string("*") : l.image_id), false),
                          ec2_arn(a, r, "subnet/*"), ec2_arn(a, r, "security-group/*"),
                          ec2_arn(a, r, "network-interface/*"), ec2_arn(a, r, "spot-instances-request/*")}}});
  statements.push_back({{"Sid", "SuccessorTags"},
                        {"Effect", "Allow"},
                        {"Action", "ec2:CreateTags"},
                        {"Resource", {ec2_arn(a, r, "instance/*"), ec2_arn(a, r, "volume/*")}},
                        {"Condition", {{"StringEquals", {{"ec2:CreateAction", "RunInstances"}}}}}});
  statements.push_back({{"Sid", "SuccessorRole"},
                        {"Effect", "Allow"},
                        {"Action", "iam:PassRole"},
                        {"Resource", iam_arn(a, std::string("role") + kJobRolePath + l.job)},
                        {"Condition", {{"StringEquals", {{"iam:PassedToService", "ec2.amazonaws.com"}}}}}});
}

// What SSM Session Manager needs of an instance (AmazonSSMManagedInstanceCore's
// messaging part): --keep-instance.
json session_statement() {
  return {{"Sid", kSessionsSid},
          {"Effect", "Allow"},
          {"Action",
           {"ssm:UpdateInstanceInformation", "ssmmessages:CreateControlChannel", "ssmmessages:CreateDataChannel",
            "ssmmessages:OpenControlChannel", "ssmmessages:OpenDataChannel", "ec2messages:AcknowledgeMessage",
            "ec2messages:DeleteMessage", "ec2messages:FailMessage", "ec2messages:GetEndpoint",
            "ec2messages:GetMessages", "ec2messages:SendReply"}},
          {"Resource", "*"}};
}

json job_statements(const AccountFacts& a, const JobScope& scope, bool name_blobs) {
  const std::string own = scope.bucket + "/" + keys::prefix(scope.job_id);
  json blobs = json::array();
  if (name_blobs) {
    for (const auto& sha : scope.blobs) blobs.push_back(s3_arn(a, scope.bucket + "/" + blob_key(sha)));
  } else {
    blobs.push_back(s3_arn(a, scope.bucket + "/blobs/sha256/*"));
  }
  json statements = json::array({
      // Its spec, the cancel request, its own status: nobody else's.
      {{"Sid", "OwnRecord"}, {"Effect", "Allow"}, {"Action", kReadObject}, {"Resource", s3_arn(a, own + "*")}},
      {{"Sid", "OwnWrites"}, {"Effect", "Allow"}, {"Action", write_object()}, {"Resource", s3_arn(a, own + "*")}},
      {{"Sid", "OwnBlobs"}, {"Effect", "Allow"}, {"Action", kReadObject}, {"Resource", blobs}},
      registry_login(),
      {{"Sid", "OwnImages"},
       {"Effect", "Allow"},
       {"Action", image_actions()},
       {"Resource", repository_arn(a, scope.repository)}},
  });
  if (!scope.input_s3.empty()) read_location(a, scope.input_s3, statements);
  // Its checkpoint's old contents, replaced by a newer save.
  statements.push_back({{"Sid", "OwnCheckpoint"},
                        {"Effect", "Allow"},
                        {"Action", "s3:DeleteObject"},
                        {"Resource", s3_arn(a, scope.bucket + "/" + keys::checkpoint_content(scope.job_id) + "*")}});
  if (!scope.notify_topic.empty())
    statements.push_back(
        {{"Sid", kNotifySid}, {"Effect", "Allow"}, {"Action", "sns:Publish"}, {"Resource", scope.notify_topic}});
  if (scope.sessions) statements.push_back(session_statement());
  if (scope.successor)
    successor_statements(a,
                         {job_role_name(scope.job_id), scope.successor->region, scope.successor->instance_type,
                          scope.successor->image_id},
                         statements);
  // Outputs anywhere but under its own prefix (which OwnWrites covers).
  if (auto [b, k] = split_s3(scope.output_s3); !(b == scope.bucket && k.starts_with(keys::prefix(scope.job_id))))
    statements.push_back({{"Sid", "WriteOutput"},
                          {"Effect", "Allow"},
                          {"Action", write_object()},
                          {"Resource", s3_arn(a, b + "/" + k + "*")}});
  return statements;
}
}  // namespace

std::string job_role_policy(const AccountFacts& a, const JobScope& scope) {
  std::string named = json{{"Version", "2012-10-17"}, {"Statement", job_statements(a, scope, true)}}.dump();
  if (named.size() <= kInlinePolicyLimit) return named;
  return json{{"Version", "2012-10-17"}, {"Statement", job_statements(a, scope, false)}}.dump();
}

std::string boundary_arn(const AccountFacts& a) {
  return managed_policy_arn(a, kBoundaryName);
}

std::string boundary_policy(const AccountFacts& a, const std::vector<std::string>& data_buckets) {
  json buckets = json::array();
  json objects = json::array();
  for (const auto& b : data_buckets.empty() ? std::vector<std::string>{"*"} : data_buckets) {
    buckets.push_back(s3_arn(a, b));
    objects.push_back(s3_arn(a, b + "/*"));
  }
  json statements = json::array({
      {{"Sid", "HoistBuckets"},
       {"Effect", "Allow"},
       {"Action", {"s3:ListBucket", "s3:GetBucketLocation"}},
       {"Resource", hoist_buckets(a)}},
      {{"Sid", "HoistObjects"},
       {"Effect", "Allow"},
       {"Action", read_write_object()},
       {"Resource", hoist_buckets(a, "/*")}},
      {{"Sid", "DataBuckets"}, {"Effect", "Allow"}, {"Action", "s3:ListBucket"}, {"Resource", buckets}},
      {{"Sid", "DataObjects"}, {"Effect", "Allow"}, {"Action", read_write_object()}, {"Resource", objects}},
      registry_login(),
      {{"Sid", "HoistImages"},
       {"Effect", "Allow"},
       {"Action", image_actions()},
       {"Resource", repository_arn(a, "hoist/*")}},
      // A job's checkpoint contents it replaced (job roles name only their own).
      {{"Sid", "HoistCheckpoints"},
       {"Effect", "Allow"},
       {"Action", "s3:DeleteObject"},
       {"Resource", hoist_buckets(a, "/" + std::string(keys::kJobs) + "*/checkpoint/*")}},
  });
  // A spot job's successor: only of the caller's own job, with its own
  // profile and role (the role's hoist:job tag, which it may not change).
  LaunchLimits own;
  own.job = "${aws:PrincipalTag/hoist:job}";
  successor_statements(a, own, statements);
  // The end of a job told (--notify), to hoist's topic only; a session
  // (--keep-instance).
  statements.push_back(
      {{"Sid", kNotifySid}, {"Effect", "Allow"}, {"Action", "sns:Publish"}, {"Resource", topic_arn(a, "*")}});
  statements.push_back(session_statement());
  return json{{"Version", "2012-10-17"}, {"Statement", statements}}.dump();
}

bool boundary_has(const std::string& policy_json, const std::string& sid) {
  const json doc = json::parse(policy_json, nullptr, false);
  if (!doc.is_object() || !doc.contains("Statement") || !doc["Statement"].is_array()) return false;
  return std::ranges::any_of(doc["Statement"],
                             [&](const json& st) { return st.is_object() && st.value("Sid", "") == sid; });
}

bool BoundaryState::has(const std::string& sid) const {
  return std::ranges::find(sids, sid) != sids.end();
}

std::vector<std::string> boundary_data_buckets(const std::string& policy_json) {
  std::vector<std::string> out;
  const json doc = json::parse(policy_json, nullptr, false);
  if (!doc.is_object() || !doc.contains("Statement") || !doc["Statement"].is_array()) return out;
  for (const auto& st : doc["Statement"]) {
    if (!st.is_object() || st.value("Sid", "") != "DataBuckets" || !st.contains("Resource")) continue;
    const json& r = st["Resource"];
    for (const auto& arn : r.is_array() ? r : json::array({r}))
      if (arn.is_string()) {
        const auto& s = arn.get_ref<const std::string&>();
        if (auto at = s.find(":::"); at != std::string::npos) out.push_back(s.substr(at + 3));
      }
  }
  return out;
}

bool data_bucket_allowed(const std::vector<std::string>& allowed, const std::string& bucket) {
  return std::ranges::any_of(allowed, [&](const std::string& b) { return b == "*" || b == bucket; });
}

std::string notify_topic_arn(const AccountFacts& a) {
  return topic_arn(a, a.region);
}

std::string user_policy(const AccountFacts& a) {
  const std::string& p = a.partition;
  const std::string& id = a.account_id;
  const std::string r = a.region.empty() ? "*" : a.region;
  const std::string job_roles = iam_arn(a, std::string("role") + kJobRolePath + "*");
  const std::string job_profiles = iam_arn(a, std::string("instance-profile") + kJobRolePath + "*");
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
       {"Resource", hoist_buckets(a)}},
      {{"Sid", "Objects"},
       {"Effect", "Allow"},
       {"Action", {"s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"}},
       {"Resource", hoist_buckets(a, "/*")}},
      {{"Sid", "FindRegistries"},
       {"Effect", "Allow"},
       {"Action", {"ecr:DescribeRepositories", "ecr:ListTagsForResource"}},
       {"Resource", repository_arn(a, "*")}},
      {{"Sid", "Registry"},
       {"Effect", "Allow"},
       {"Action",
        {"ecr:CreateRepository", "ecr:DescribeRepositories", "ecr:DescribeImages", "ecr:PutLifecyclePolicy",
         "ecr:PutImageTagMutability", "ecr:TagResource", "ecr:DeleteRepository", "ecr:BatchDeleteImage",
         "ecr:ListImages", "ecr:GetLifecyclePolicy"}},
       {"Resource", repository_arn(a, "hoist/*")}},
      // A job role may be written only with the boundary on it, so nothing
      // written into it can reach past the boundary (no IAM, no EC2): the
      // holder of this policy cannot make a role stronger than a job's.
      {{"Sid", "JobRolesUnderTheBoundary"},
       {"Effect", "Allow"},
       {"Action", {"iam:CreateRole", "iam:PutRolePolicy"}},
       {"Resource", job_roles},
       {"Condition", {{"StringEquals", {{"iam:PermissionsBoundary", boundary_arn(a)}}}}}},
      {{"Sid", "JobRoles"},
       {"Effect", "Allow"},
       {"Action", {"iam:GetRole", "iam:TagRole", "iam:ListRolePolicies", "iam:DeleteRolePolicy", "iam:DeleteRole"}},
       {"Resource", job_roles}},
      {{"Sid", "KeepTheBoundary"},
       {"Effect", "Deny"},
       {"Action", {"iam:DeleteRolePermissionsBoundary", "iam:PutRolePermissionsBoundary"}},
       {"Resource", job_roles}},
      {{"Sid", "JobProfiles"},
       {"Effect", "Allow"},
       {"Action",
        {"iam:GetInstanceProfile", "iam:CreateInstanceProfile", "iam:TagInstanceProfile",
         "iam:AddRoleToInstanceProfile", "iam:RemoveRoleFromInstanceProfile", "iam:DeleteInstanceProfile"}},
       {"Resource", job_profiles}},
      {{"Sid", "PassOnlyJobRoles"},
       {"Effect", "Allow"},
       {"Action", "iam:PassRole"},
       {"Resource", job_roles},
       {"Condition", {{"StringEquals", {{"iam:PassedToService", "ec2.amazonaws.com"}}}}}},
      {{"Sid", "ListJobRoles"}, {"Effect", "Allow"}, {"Action", "iam:ListRoles"}, {"Resource", "*"}},
      {{"Sid", "ReadTheBoundary"},
       {"Effect", "Allow"},
       {"Action", {"iam:GetPolicy", "iam:GetPolicyVersion"}},
       {"Resource", boundary_arn(a)}},
      // The one role older versions of hoist shared between jobs: removed
      // by gc and down, never made again.
      {{"Sid", "RemoveTheOldSharedRole"},
       {"Effect", "Allow"},
       {"Action",
        {"iam:GetRole", "iam:ListRolePolicies", "iam:DeleteRolePolicy", "iam:DeleteRole", "iam:GetInstanceProfile",
         "iam:RemoveRoleFromInstanceProfile", "iam:DeleteInstanceProfile"}},
       {"Resource",
        {iam_arn(a, "role/hoist/hoist-instance-*"), iam_arn(a, "instance-profile/hoist/hoist-instance-*"),
         iam_arn(a, "role/hoist-instance-*"), iam_arn(a, "instance-profile/hoist-instance-*")}}},
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
      // --notify: hoist's one topic, its e-mail subscriptions; `hoist down`
      // finds it by its name and tags, and removes it.
      {{"Sid", "Notifications"},
       {"Effect", "Allow"},
       {"Action",
        {"sns:CreateTopic", "sns:TagResource", "sns:ListTagsForResource", "sns:GetTopicAttributes",
         "sns:ListSubscriptionsByTopic", "sns:Subscribe", "sns:DeleteTopic"}},
       {"Resource", topic_arn(a, r)}},
      {{"Sid", "EndOwnInstances"},
       {"Effect", "Allow"},
       {"Action", "ec2:TerminateInstances"},
       {"Resource", "*"},
       {"Condition", {{"StringEquals", {{"aws:ResourceTag/hoist:managed", "true"}}}}}},
      {{"Sid", "Read"},
       {"Effect", "Allow"},
       {"Action",
        {"ec2:DescribeInstances", "ec2:DescribeImages", "ec2:DescribeInstanceTypes",
         "ec2:DescribeInstanceTypeOfferings", "ec2:DescribeSpotPriceHistory", "ssm:GetParameter",
         // The planner's on-demand prices (`hoist run`, `hoist types`).
         "pricing:GetProducts"}},
       {"Resource", "*"}},
  });
  return json{{"Version", "2012-10-17"}, {"Statement", statements}}.dump(2);
}

namespace {
// create_bucket's settings as a version, tagged last: a bucket without it
// (a first run interrupted after CreateBucket, an older hoist) or with an
// older one gets every setting again. Raise it when the settings change.
constexpr const char* kHardeningTag = "hoist:hardening";
// The jobs_retention the lifecycle configuration has (absent: none).
constexpr const char* kRetentionTag = "hoist:jobs-retention";

std::string retention_tag(int days) {
  return days > 0 ? std::to_string(days) + "d" : "";
}
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

EnsureResult probe_bucket(const std::shared_ptr<aws::Session>& session, const std::string& bucket,
                          int jobs_retention_days) {
  aws::S3 s3(session);
  bool unreadable = false;
  // The tags with the HEAD, at once: convergence costs no extra wait. (An
  // std::async future waits in its destructor, so a HEAD that throws leaves
  // nothing running.)
  auto tags = std::async(std::launch::async, [&]() -> std::optional<std::map<std::string, std::string>> {
    try {
      return s3.bucket_tags(bucket);
    } catch (const aws::AwsError& e) {
      if (!e.is("AccessDenied")) throw;
      unreadable = true;
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
  if (unreadable)
    return {true, uri, true,
            "cannot read the tags of " + bucket + " (s3:GetBucketTagging): its settings are applied again"};
  const auto retention = t->find(kRetentionTag);
  const bool retention_set = (retention == t->end() ? "" : retention->second) == retention_tag(jobs_retention_days);
  return {true, uri, !hardened(*t) || !retention_set};
}

EnsureResult create_bucket(const std::shared_ptr<aws::Session>& session, const std::string& bucket, bool exists,
                           int jobs_retention_days) {
  aws::S3 s3(session);
  aws::BucketSettings settings;
  settings.tags = managed_tags();
  settings.tags[kHardeningTag] = std::to_string(kHardening);
  if (jobs_retention_days > 0) {
    settings.tags[kRetentionTag] = retention_tag(jobs_retention_days);
    settings.expire_prefix = "jobs/";
    settings.expire_days = jobs_retention_days;
  }
  // The policy denies every request not made over TLS, so it can only go on a
  // bucket reached over https (always, on AWS); a plain-http emulator would
  // lock itself out.
  settings.tls_only_policy = session->config.endpoint("s3").rfind("https://", 0) == 0;
  settings.exists = exists;
  bool created = s3.create_bucket(bucket, settings);
  return {!created, "s3://" + bucket};
}

EnsureResult probe_repository(const std::shared_ptr<aws::Session>& session, const std::string& repository,
                              int images_kept) {
  aws::Ecr ecr(session);
  auto policy = std::async(std::launch::async, [&]() -> std::optional<std::string> {
    try {
      return ecr.get_lifecycle_policy(repository);
    } catch (const aws::AwsError& e) {
      if (e.is("RepositoryNotFoundException")) return std::nullopt;
      throw;
    }
  });
  auto repo = ecr.describe_repository(repository);
  const auto p = policy.get();
  if (!repo) return {false, repository};
  // One whose tags can be overwritten (made by an older hoist) is not ready:
  // create_repository makes them immutable. Nor is one that keeps another
  // number of images than images_kept says.
  const bool policy_set = p && nlohmann::json::parse(*p, nullptr, false) ==
                                   nlohmann::json::parse(aws::keep_last_images_policy(images_kept));
  if (repo->tag_mutability != "IMMUTABLE") return {false, repo->uri};
  return {true, repo->uri, !policy_set};
}

EnsureResult create_repository(const std::shared_ptr<aws::Session>& session, const std::string& repository,
                               const std::string& project, int images_kept) {
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
  ecr.put_lifecycle_policy(repository, aws::keep_last_images_policy(images_kept));
  return {!created.created, created.repository.uri};
}

BoundaryState probe_boundary(const std::shared_ptr<aws::Session>& session, const AccountFacts& account,
                             bool read_data_buckets) {
  aws::Iam iam(session);
  BoundaryState state;
  auto policy = iam.get_policy(boundary_arn(account));
  if (!policy) return state;
  state.exists = true;
  if (read_data_buckets) {
    const std::string document = iam.get_policy_version(policy->arn, policy->default_version);
    state.data_buckets = boundary_data_buckets(document);
    for (const char* sid : {kSuccessorSid, kNotifySid, kSessionsSid})
      if (boundary_has(document, sid)) state.sids.emplace_back(sid);
  }
  return state;
}

std::string managed_policy_arn(const AccountFacts& account, const std::string& name) {
  return iam_arn(account, std::string("policy") + kIamPath + name);
}

bool put_managed_policy(const std::shared_ptr<aws::Session>& session, const AccountFacts& account,
                        const std::string& name, const std::string& policy_json, const std::string& description) {
  aws::Iam iam(session);
  if (iam.create_policy(name, kIamPath, policy_json, description, managed_tags())) return true;
  const std::string arn = managed_policy_arn(account, name);
  auto policy = iam.get_policy(arn);
  if (policy &&
      json::parse(iam.get_policy_version(arn, policy->default_version), nullptr, false) == json::parse(policy_json))
    return false;
  // IAM keeps at most five versions: drop the oldest that is not the default.
  auto versions = iam.list_policy_versions(arn);
  if (versions.size() >= 5) {
    std::erase_if(versions, [](const aws::PolicyVersion& v) { return v.is_default; });
    std::ranges::sort(versions, {}, &aws::PolicyVersion::create_date);
    iam.delete_policy_version(arn, versions.front().id);
  }
  iam.create_policy_version(arn, policy_json, true);
  return true;
}

bool put_boundary(const std::shared_ptr<aws::Session>& session, const AccountFacts& account,
                  const std::vector<std::string>& data_buckets) {
  return put_managed_policy(session, account, kBoundaryName, boundary_policy(account, data_buckets),
                            "The most any hoist job's role may do");
}

void ensure_boundary(const std::shared_ptr<aws::Session>& session, const AccountFacts& account, Reporter& reporter) {
  try {
    put_boundary(session, account, {});
  } catch (const aws::AwsError& e) {
    if (!e.access_denied()) throw;
    throw Fatal(Exit::not_set_up, "this account has no hoist job boundary (the policy " + boundary_arn(account) +
                                      ") and you may not create it: an administrator runs `hoist setup` once");
  }
  reporter.note("created the job boundary " + boundary_arn(account) +
                ": job roles may reach hoist's bucket and repositories and any S3 bucket (`hoist setup "
                "--data-bucket` narrows it)");
}

void update_boundary(const std::shared_ptr<aws::Session>& session, const AccountFacts& account,
                     const std::vector<std::string>& data_buckets, const std::string& feature, Reporter& reporter) {
  try {
    put_boundary(session, account, data_buckets);
  } catch (const aws::AwsError& e) {
    if (!e.access_denied()) throw;
    throw Fatal(Exit::not_set_up, "this account's job boundary (" + boundary_arn(account) + ") predates " + feature +
                                      ", and you may not update it: an administrator runs `hoist setup` once more "
                                      "(or run without " +
                                      feature + ")");
  }
  reporter.note("updated the job boundary " + boundary_arn(account) + " for " + feature +
                " (its data buckets kept): see docs/job-spec.md for what a job role may do");
}

namespace {
// check_boundary_allows' refusal of a bucket the boundary does not allow.
Fatal outside_boundary(const std::string& bucket) {
  return {Exit::access_denied, "jobs in this account may not reach s3://" + bucket +
                                   " (the job boundary allows only hoist's bucket and the data buckets "
                                   "its administrator named): ask them to run `hoist setup --data-bucket " +
                                   bucket + "`"};
}
}  // namespace

void check_boundary_allows(const BoundaryState& boundary, const std::vector<std::string>& locations) {
  if (!boundary.exists) return;  // made next, allowing any bucket
  for (const auto& uri : locations) {
    if (uri.empty()) continue;
    const std::string bucket = split_s3(uri).first;
    if (!data_bucket_allowed(boundary.data_buckets, bucket)) throw outside_boundary(bucket);
  }
}

std::string create_job_role(const std::shared_ptr<aws::Session>& session, const AccountFacts& account,
                            const JobScope& scope) {
  aws::Iam iam(session);
  std::string name = job_role_name(scope.job_id);
  auto tags = job_tags(scope.job_id, scope.repository.substr(scope.repository.find('/') + 1));
  if (!scope.keep.empty()) tags[kKeepTag] = scope.keep;
  aws::RoleSpec spec;
  spec.name = name;
  spec.path = kJobRolePath;
  spec.assume_role_policy = instance_trust_policy();
  spec.description = "hoist job " + scope.job_id;
  spec.tags = tags;
  spec.permissions_boundary = boundary_arn(account);
  // Two round trips: the role and the profile at once; then its policy and
  // the role into the profile at once. (A std::async future waits in its
  // destructor: an error here leaves nothing running.)
  auto profile = std::async(std::launch::async, [&] { iam.create_instance_profile(name, kJobRolePath, tags); });
  iam.create_role(spec);
  profile.get();
  auto add = std::async(std::launch::async, [&] { iam.add_role_to_instance_profile(name, name); });
  iam.put_role_policy(name, "job", job_role_policy(account, scope));
  add.get();
  return name;
}

std::optional<std::string> role_kept_until(const std::map<std::string, std::string>& tags) {
  const auto k = tags.find(kKeepTag);
  if (k == tags.end() || (k->second != "down" && k->second != "keep")) return std::nullopt;
  return k->second;
}

std::string kept_role_note(const std::string& job_id, const std::string& until) {
  return "kept the role of job " + job_id + " and its instance profile (hoist.toml [keep] role = \"" + until +
         "\"): " + (until == "down" ? "`hoist down`" : "`hoist down --only role`") + " removes it";
}

bool delete_job_role(const std::shared_ptr<aws::Session>& session, const std::string& job_id) {
  aws::Iam iam(session);
  const std::string name = job_role_name(job_id);
  // The profile first (a role in a profile cannot be deleted), meanwhile the
  // role's policy; then the role.
  auto profile = std::async(std::launch::async, [&] {
    iam.remove_role_from_instance_profile(name, name);
    iam.delete_instance_profile(name);
  });
  iam.delete_role_policy(name, "job");
  profile.get();
  return iam.delete_role(name);
}

}  // namespace hoist::job
