#include "job/teardown.hpp"

#include <cstdio>
#include <future>
#include <map>
#include <set>
#include <thread>

#include "aws/ec2.hpp"
#include "aws/ecr.hpp"
#include "aws/error.hpp"
#include "aws/http.hpp"
#include "aws/iam.hpp"
#include "aws/s3.hpp"
#include "aws/sns.hpp"
#include "job/account.hpp"
#include "job/instances.hpp"
#include "job/naming.hpp"
#include "job/record.hpp"
#include "job/reporter.hpp"
#include "job/spec.hpp"
#include "util/error.hpp"

namespace hoist::job {
namespace {

bool is_managed(const std::map<std::string, std::string>& tags) {
  auto it = tags.find(kManagedTag);
  return it != tags.end() && it->second == "true";
}

// Roles are found by their path, and only those tagged as hoist's are
// removed (DESIGN B1): ListRoles gives no tags, so each is asked for them.
bool managed_role(aws::Iam& iam, const std::string& name, Reporter& reporter) {
  auto role = iam.get_role(name);
  if (role && !is_managed(role->tags))
    reporter.note("kept role " + name + ": it has no " + std::string(kManagedTag) + "=true tag");
  return role && is_managed(role->tags);
}

// What gc knows of a job: its status and, if it may still run, its spec.
struct JobRecord {
  std::optional<JobStatus> status;
  std::optional<StoredJob> spec;
};

// The records of these jobs, read in parallel (a GET or two each).
std::map<std::string, JobRecord> read_jobs(aws::S3& s3, const std::string& bucket, const std::set<std::string>& ids,
                                           const std::set<std::string>& need_spec) {
  const std::vector<std::string> list(ids.begin(), ids.end());
  std::vector<JobRecord> records(list.size());
  aws::parallel_for(list.size(), 8, [&](std::size_t i) {
    records[i].status = read_status(s3, bucket, list[i]);
    if ((!records[i].status || !records[i].status->terminal()) && need_spec.contains(list[i]))
      records[i].spec = read_job(s3, bucket, list[i]);
  });
  std::map<std::string, JobRecord> out;
  for (std::size_t i = 0; i < list.size(); ++i) out.emplace(list[i], std::move(records[i]));
  return out;
}

// A job's role outlives its job when the laptop that ran it went away (a
// detached job, a laptop that died), or was made for a launch that never
// happened: removed once no instance of the job runs and the job ended, or
// it never started within this long.
constexpr auto kNeverLaunched = std::chrono::minutes(10);

}  // namespace

int gc(const Connected& c, bool dry_run, Reporter& reporter) {
  aws::Ec2 ec2(c.session);
  aws::S3 s3(c.session);
  aws::Iam iam(c.session);
  const std::string legacy = legacy_role_name(c.account.region);
  auto alive_f = std::async(std::launch::async, [&] { return managed_instances(c.session, InstanceStates::alive); });
  auto roles_f = std::async(std::launch::async, [&] { return iam.list_roles(kJobRolePath); });
  std::vector<std::string> policies;
  try {
    policies = iam.list_role_policies(legacy);
  } catch (const aws::AwsError& e) {
    if (!e.not_found()) throw;
  }
  const auto alive = alive_f.get();
  const auto roles = roles_f.get();
  std::set<std::string> with_instance;  // the jobs whose spec says how long they may run
  for (const auto& i : alive)
    if (auto tag = i.tags.find(kJobTag); tag != i.tags.end() && !tag->second.empty()) with_instance.insert(tag->second);
  std::set<std::string> ids = with_instance;
  for (const auto& p : policies)
    if (auto id = job_of_legacy_policy(p)) ids.insert(*id);
  for (const auto& r : roles)
    if (auto id = job_of_role(r.name)) ids.insert(*id);
  const auto jobs = read_jobs(s3, c.bucket, ids, with_instance);

  int ended = 0;
  std::vector<std::string> to_terminate;
  const std::string now = iso8601(std::chrono::system_clock::now());
  for (const auto& i : alive) {
    const auto tag = i.tags.find(kJobTag);
    std::string why;
    if (tag == i.tags.end() || tag->second.empty()) {
      why = "it has no hoist:job tag";
    } else if (const JobRecord& r = jobs.at(tag->second); r.status && r.status->terminal()) {
      why = "its job " + tag->second + " ended (" + r.status->phase + ")";
    } else if (!r.spec) {
      why = "its job " + tag->second + " is unknown in " + c.bucket;
    } else if (auto age = seconds_between(i.launch_time, now);
               age && *age > r.spec->max_runtime + std::chrono::minutes(15)) {
      why = "its job " + tag->second + " outlived --max-runtime";
    }
    if (why.empty()) continue;
    reporter.note(std::string(dry_run ? "would terminate " : "terminating ") + i.id + ": " + why);
    to_terminate.push_back(i.id);
    with_instance.erase(tag == i.tags.end() ? std::string() : tag->second);
    ++ended;
  }
  if (!dry_run && !to_terminate.empty()) ec2.terminate_instances(to_terminate);
  for (const auto& role : roles) {
    const auto id = job_of_role(role.name);
    if (!id || with_instance.contains(*id)) continue;  // its instance still runs
    const JobRecord& r = jobs.at(*id);
    // Not started yet, and perhaps still starting: the launching status (or,
    // before it is written, the role itself) is recent.
    const std::string& since = r.status ? r.status->updated_at : role.create_date;
    if (!(r.status && r.status->terminal())) {
      auto age = seconds_between(since, now);
      if (!age || *age < kNeverLaunched) continue;
    }
    if (!managed_role(iam, role.name, reporter)) continue;
    reporter.note(std::string(dry_run ? "would remove " : "removing ") + "the role of job " + *id +
                  (r.status && r.status->terminal() ? " (" + r.status->phase + ")" : " (never launched, or lost)"));
    if (!dry_run) delete_job_role(c.session, *id);
    ++ended;
  }
  for (const auto& p : policies) {
    const auto id = job_of_legacy_policy(p);
    if (!id) continue;
    const JobRecord& r = jobs.at(*id);
    if (r.status && !r.status->terminal()) continue;
    reporter.note(std::string(dry_run ? "would remove " : "removing ") + "per-job policy " + p +
                  " of the old shared role");
    if (!dry_run) iam.delete_role_policy(legacy, p);
    ++ended;
  }
  return ended;
}

// The one role older versions of hoist shared between jobs, with its profile.
namespace {

void remove_legacy_role(aws::Iam& iam, const std::string& role, Reporter& reporter) {
  auto found = iam.get_role(role);
  if (found && !is_managed(found->tags)) {
    reporter.note("kept role " + role + ": it has no " + std::string(kManagedTag) + "=true tag");
    return;
  }
  if (auto profile = iam.get_instance_profile(role)) {
    for (const auto& r : profile->roles) iam.remove_role_from_instance_profile(role, r);
    iam.delete_instance_profile(role);
    reporter.note("deleted instance profile " + role);
  }
  if (found) {
    for (const auto& p : iam.list_role_policies(role)) iam.delete_role_policy(role, p);
    iam.delete_role(role);
    reporter.note("deleted role " + role);
  }
}

}  // namespace

void cancel(const Connected& c, const std::string& job_id, std::chrono::seconds grace, Reporter& reporter) {
  aws::S3 s3(c.session);
  auto st = read_status(s3, c.bucket, job_id);
  if (!st) throw Fatal(Exit::not_found, "no job " + job_id + " in " + c.bucket + ": see `hoist ls`");
  if (st->terminal()) {
    reporter.note("job " + job_id + " already ended: " + st->phase);
    release_job_resources(c.session, job_id, st->instance_id, reporter);
    return;
  }
  s3.put_object(c.bucket, keys::cancel(job_id), "cancel requested\n", "text/plain");
  reporter.note("asked " + job_id + " to stop; waiting up to " + std::to_string(grace.count()) + "s for its outputs");
  const auto deadline = std::chrono::steady_clock::now() + grace;
  while (std::chrono::steady_clock::now() < deadline) {
    st = read_status(s3, c.bucket, job_id);
    if (st && st->terminal()) break;
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
  release_job_resources(c.session, job_id, st ? st->instance_id : "", reporter);
  reporter.say(
      {"ended",
       "job " + job_id + " " + (st && st->terminal() ? st->phase : "terminated") + "; its instance is terminated",
       {{"job_id", job_id}, {"phase", st && st->terminal() ? st->phase : "terminated"}}});
}

void check_down_options(const DownOptions& options) {
  const std::set<std::string> known(std::begin(kDownResources), std::end(kDownResources));
  std::string list;
  for (const char* r : kDownResources) list += (list.empty() ? "" : ",") + std::string(r);
  for (const auto* names : {&options.only, &options.keep})
    for (const auto& n : *names)
      if (!known.contains(n))
        throw Fatal(Exit::bad_option, std::string(names == &options.only ? "--only" : "--keep") + " '" + n +
                                          "' is not something down removes: name some of " + list);
  for (const auto& n : options.only)
    if (options.keep.contains(n))
      throw Fatal(Exit::bad_option, "'" + n + "' is in both --only and --keep: name it in one of them");
}

namespace {

// What one down takes, resource by resource.
struct DownPlan {
  bool instances, roles, topic, bucket, images, repository, project_images, project_repository;
};

DownPlan plan_down(const DownOptions& o) {
  auto pick = [&](const char* name, bool by_default) {
    if (!o.only.empty()) return o.only.contains(name);
    if (o.keep.contains(name)) return false;
    return by_default;
  };
  const KeepSettings& k = o.settings;
  DownPlan p{};
  p.instances = pick("instances", true);
  p.roles = pick("role", true);
  p.topic = pick("topic", o.all || k.topic != KeepUntil::keep);
  p.bucket = pick("bucket", o.all || k.bucket == KeepUntil::down);
  p.repository = pick("repository", true);
  // The project's own repository, as its [keep] says (other projects'
  // settings are in their folders: theirs go as they always have).
  p.project_repository = pick("repository", o.all || k.repository != KeepUntil::keep);
  p.images = pick("images", true);
  p.project_images = pick("images", o.all || k.images_until() != KeepUntil::keep);
  return p;
}

// S3 and ECR storage, USD per GB-month (GB: 2^30 bytes), from the AWS price
// pages (aws.amazon.com/s3/pricing: S3 Standard, first 50 TB; /ecr/pricing:
// private repositories), as of 2024-06. A region not listed is priced as
// us-east-1, and said so.
struct StoragePrice {
  const char* region;
  double s3;
};
constexpr StoragePrice kStoragePrices[] = {
    {"us-east-1", 0.023},      {"us-east-2", 0.023},      {"us-west-1", 0.026},      {"us-west-2", 0.023},
    {"ca-central-1", 0.025},   {"eu-west-1", 0.023},      {"eu-west-2", 0.024},      {"eu-west-3", 0.024},
    {"eu-central-1", 0.0245},  {"eu-north-1", 0.023},     {"ap-northeast-1", 0.025}, {"ap-northeast-2", 0.025},
    {"ap-southeast-1", 0.025}, {"ap-southeast-2", 0.025}, {"ap-south-1", 0.025},     {"sa-east-1", 0.0405}};
constexpr double kEcrUsdPerGbMonth = 0.10;
constexpr const char* kStoragePriceSource = "AWS price pages, 2024-06";

std::string monthly(std::uint64_t bytes, double usd_per_gb_month, const std::string& what) {
  const double gb = static_cast<double>(bytes) / static_cast<double>(1ull << 30);
  char buf[160];
  std::snprintf(buf, sizeof buf, "%.3f GB, $%.2f/month at %s's $%.3f/GB-month", gb, gb * usd_per_gb_month, what.c_str(),
                usd_per_gb_month);
  return buf;
}

}  // namespace

bool down(const Connected& c, const DownOptions& options, Reporter& reporter) {
  check_down_options(options);
  const DownPlan plan = plan_down(options);
  const bool dry = options.dry_run;
  const std::string would = dry ? "would delete " : "deleting ";
  if (!dry && !options.yes) {
    std::string what;
    auto add = [&](bool on, const std::string& s) {
      if (on) what += (what.empty() ? "" : ", ") + s;
    };
    add(plan.instances, "end every running hoist instance");
    add(plan.repository || plan.project_repository, "remove hoist's repositories");
    add(plan.images && !(plan.repository || plan.project_repository), "remove the images in hoist's repositories");
    add(plan.roles, "remove hoist's job roles");
    add(plan.topic, "remove the topic " + std::string(kTopicName));
    add(plan.bucket, "delete the bucket " + c.bucket + " with every job's outputs");
    if (what.empty()) {
      reporter.note("nothing to remove: every resource is kept");
      return true;
    }
    if (!reporter.confirm("this will " + what + " in " + c.account.region + ". Continue?", false)) {
      reporter.note("nothing removed");
      return false;
    }
  }
  aws::Ec2 ec2(c.session);
  std::vector<std::string> ids;
  std::set<std::string> running_jobs;  // jobs whose instance stays up
  for (const auto& i : managed_instances(c.session, InstanceStates::alive)) {
    if (plan.instances) {
      ids.push_back(i.id);
    } else if (auto tag = i.tags.find(kJobTag); tag != i.tags.end()) {
      running_jobs.insert(tag->second);
    }
  }
  if (!ids.empty()) {
    reporter.note(std::string(dry ? "would terminate " : "terminating ") + std::to_string(ids.size()) +
                  " running hoist instance(s)");
    if (!dry) ec2.terminate_instances(ids);
  }
  // Only what carries hoist's tag: a repository someone else named
  // hoist/... stays.
  aws::Ecr ecr(c.session);
  std::vector<std::string> stays;  // what is kept, with its storage cost
  for (const auto& repo : ecr.list_repositories("hoist/")) {
    if (!is_managed(ecr.list_tags(repo.arn))) {
      reporter.note("kept repository " + repo.name + ": it has no " + std::string(kManagedTag) + "=true tag");
      continue;
    }
    const bool project = repo.name == options.project_repository;
    const bool take = project ? plan.project_repository : plan.repository;
    const bool take_images = project ? plan.project_images : plan.images;
    if (take) {
      reporter.note(would + "repository " + repo.name);
      if (!dry) ecr.delete_repository(repo.name, true);
      continue;
    }
    if (!dry && !take_images) {
      reporter.note("kept repository " + repo.name);
      continue;
    }
    std::vector<aws::EcrImage> images = ecr.describe_images(repo.name);
    if (take_images && !images.empty()) {
      std::vector<aws::EcrImageId> gone;
      for (const auto& i : images) gone.push_back({i.digest, ""});
      reporter.note(would + std::to_string(images.size()) + " image(s) of repository " + repo.name);
      if (!dry) ecr.batch_delete_image(repo.name, gone);
      images.clear();
    }
    std::uint64_t bytes = 0;
    for (const auto& i : images) bytes += i.size;
    stays.push_back("repository " + repo.name + " (" + std::to_string(images.size()) + " images, " +
                    monthly(bytes, kEcrUsdPerGbMonth, "ECR") + ")");
  }
  aws::Iam iam(c.session);
  if (plan.roles) {
    // Every job's role whose instance is ended (above), then the old shared
    // one. The boundary stays: an administrator's.
    std::vector<std::string> job_roles;
    for (const auto& r : iam.list_roles(kJobRolePath)) {
      auto id = job_of_role(r.name);
      if (!id) continue;
      if (running_jobs.contains(*id)) {
        reporter.note("kept the role of job " + *id + ": its instance runs (add instances to --only to end it)");
        continue;
      }
      if (managed_role(iam, r.name, reporter)) job_roles.push_back(*id);
    }
    if (!dry) aws::parallel_for(job_roles.size(), 4, [&](std::size_t i) { delete_job_role(c.session, job_roles[i]); });
    if (!job_roles.empty())
      reporter.note((dry ? "would delete " : "deleted ") + std::to_string(job_roles.size()) + " job role(s)");
    if (dry) {
      if (iam.get_role(legacy_role_name(c.account.region)))
        reporter.note(would + "role " + legacy_role_name(c.account.region) + " (if tagged as hoist's)");
    } else {
      remove_legacy_role(iam, legacy_role_name(c.account.region), reporter);
    }
  }
  const std::string topic_arn =
      "arn:" + c.account.partition + ":sns:" + c.account.region + ":" + c.account.account_id + ":" + kTopicName;
  aws::Sns sns(c.session);
  if (auto tags = sns.topic_tags(topic_arn)) {
    if (!is_managed(*tags)) {
      reporter.note("kept topic " + std::string(kTopicName) + ": it has no " + std::string(kManagedTag) + "=true tag");
    } else if (plan.topic) {
      reporter.note(would + "topic " + kTopicName);
      if (!dry) sns.delete_topic(topic_arn);
    } else {
      stays.push_back("topic " + std::string(kTopicName) + " (no storage cost)");
    }
  }
  aws::S3 s3(c.session);
  const bool have_bucket = s3.head_bucket(c.bucket);
  // Only a bucket tagged as hoist's is emptied: --bucket may name any.
  const bool ours = have_bucket && is_managed(s3.bucket_tags(c.bucket).value_or(aws::Tags{}));
  if (have_bucket && plan.bucket && !ours) {
    reporter.note("kept bucket " + c.bucket + ": it has no " + std::string(kManagedTag) + "=true tag");
  } else if (have_bucket && !plan.bucket && !dry) {
    reporter.note("kept bucket " + c.bucket + " (use --all to delete it and every job's outputs)");
  } else if (have_bucket) {
    std::vector<std::string> keys;
    std::uint64_t bytes = 0;
    s3.list_objects(c.bucket, "", [&](const aws::ObjectInfo& o) {
      keys.push_back(o.key);
      bytes += o.size;
    });
    if (plan.bucket) {
      if (!dry) {
        s3.delete_objects(c.bucket, keys);
        s3.delete_bucket(c.bucket);
      }
      reporter.note((dry ? "would delete bucket " : "deleted bucket ") + c.bucket + " (" + std::to_string(keys.size()) +
                    " objects)");
    } else {
      double usd = 0;
      std::string where = c.account.region;
      for (const auto& p : kStoragePrices)
        if (p.region == c.account.region) usd = p.s3;
      if (usd == 0) {
        usd = kStoragePrices[0].s3;
        where = "us-east-1 (" + c.account.region + " is not in hoist's table)";
      }
      stays.push_back("bucket " + c.bucket + " (" + std::to_string(keys.size()) + " objects, " +
                      monthly(bytes, usd, "S3 Standard in " + where) + ")");
    }
  }
  for (const auto& s : stays) reporter.note("stays: " + s);
  if (dry && !stays.empty()) reporter.note(std::string("storage prices: ") + kStoragePriceSource);
  return true;
}

}  // namespace hoist::job
