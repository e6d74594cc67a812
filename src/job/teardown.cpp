#include "job/teardown.hpp"

#include <algorithm>
#include <array>
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
// The role when it is there and hoist's, for its tags.
std::optional<aws::Role> managed_role(aws::Iam& iam, const std::string& name, Reporter& reporter) {
  auto role = iam.get_role(name);
  if (role && !is_managed(role->tags)) {
    reporter.note("kept role " + name + ": it has no " + std::string(kManagedTag) + "=true tag");
    return std::nullopt;
  }
  return role;
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
    const auto managed = managed_role(iam, role.name, reporter);
    if (!managed) continue;
    if (auto until = role_kept_until(managed->tags)) {
      reporter.note(kept_role_note(*id, *until));
      continue;
    }
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
  const std::set<std::string, std::less<>> known(kDownResources.begin(), kDownResources.end());
  std::string list;
  for (const auto r : kDownResources) {
    if (!list.empty()) list += ',';
    list += r;
  }
  for (const auto* names : {&options.only, &options.keep}) {
    const auto unknown = std::ranges::find_if(*names, [&](const std::string& n) { return !known.contains(n); });
    if (unknown != names->end())
      throw Fatal(Exit::bad_option, std::string(names == &options.only ? "--only" : "--keep") + " '" + *unknown +
                                        "' is not something down removes: name some of " + list);
  }
  const auto both = std::ranges::find_if(options.only, [&](const std::string& n) { return options.keep.contains(n); });
  if (both != options.only.end())
    throw Fatal(Exit::bad_option, "'" + *both + "' is in both --only and --keep: name it in one of them");
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
  std::string_view region;
  double s3;
};
constexpr std::array<StoragePrice, 16> kStoragePrices = {{{"us-east-1", 0.023},
                                                          {"us-east-2", 0.023},
                                                          {"us-west-1", 0.026},
                                                          {"us-west-2", 0.023},
                                                          {"ca-central-1", 0.025},
                                                          {"eu-west-1", 0.023},
                                                          {"eu-west-2", 0.024},
                                                          {"eu-west-3", 0.024},
                                                          {"eu-central-1", 0.0245},
                                                          {"eu-north-1", 0.023},
                                                          {"ap-northeast-1", 0.025},
                                                          {"ap-northeast-2", 0.025},
                                                          {"ap-southeast-1", 0.025},
                                                          {"ap-southeast-2", 0.025},
                                                          {"ap-south-1", 0.025},
                                                          {"sa-east-1", 0.0405}}};
constexpr double kEcrUsdPerGbMonth = 0.10;
constexpr const char* kStoragePriceSource = "AWS price pages, 2024-06";

std::string monthly(std::uint64_t bytes, double usd_per_gb_month, const std::string& what) {
  const double gb = static_cast<double>(bytes) / static_cast<double>(1ull << 30);
  std::array<char, 160> buf{};
  std::snprintf(buf.data(), buf.size(), "%.3f GB, $%.2f/month at %s's $%.3f/GB-month", gb, gb * usd_per_gb_month,
                what.c_str(), usd_per_gb_month);
  return buf.data();
}

// The one y/N question before anything goes.
enum class Go { on, nothing_to_do, refused };
Go confirm_down(const Connected& c, const DownPlan& plan, Reporter& reporter) {
  std::string what;
  auto add = [&](bool on, const std::string& s) {
    if (on) what += (what.empty() ? "" : ", ") + s;
  };
  add(plan.instances, "end every running hoist instance");
  add(plan.repository || plan.project_repository, "remove hoist's repositories");
  add(plan.images && !(plan.repository || plan.project_repository), "remove the images in hoist's repositories");
  add(plan.roles, "remove hoist's job roles");
  add(plan.topic, "remove the topic " + std::string(kNotifyTopic));
  add(plan.bucket, "delete the bucket " + c.bucket + " with every job's outputs");
  if (what.empty()) {
    reporter.note("nothing to remove: every resource is kept");
    return Go::nothing_to_do;
  }
  if (!reporter.confirm("this will " + what + " in " + c.account.region + ". Continue?", false)) {
    reporter.note("nothing removed");
    return Go::refused;
  }
  return Go::on;
}

// One `hoist down`, resource by resource. What stays is collected with its
// monthly storage cost and said at the end.
class Down {
 public:
  Down(const Connected& c, const DownOptions& options, const DownPlan& plan, Reporter& reporter)
      : c_(c),
        options_(options),
        plan_(plan),
        reporter_(reporter),
        dry_(options.dry_run),
        would_(dry_ ? "would delete " : "deleting ") {}

  void run() {
    const auto running_jobs = instances();
    repositories();
    if (plan_.roles) roles(running_jobs);
    topic();
    bucket();
    for (const auto& s : stays_) reporter_.note("stays: " + s);
    if (dry_ && !stays_.empty()) reporter_.note(std::string("storage prices: ") + kStoragePriceSource);
  }

 private:
  // Ends the instances (--only instances); returns the jobs whose instance
  // stays up, whose roles stay too.
  std::set<std::string> instances() {
    std::vector<std::string> ids;
    std::set<std::string> running_jobs;
    for (const auto& i : managed_instances(c_.session, InstanceStates::alive)) {
      if (plan_.instances) {
        ids.push_back(i.id);
      } else if (auto tag = i.tags.find(kJobTag); tag != i.tags.end()) {
        running_jobs.insert(tag->second);
      }
    }
    if (!ids.empty()) {
      reporter_.note(std::string(dry_ ? "would terminate " : "terminating ") + std::to_string(ids.size()) +
                     " running hoist instance(s)");
      if (!dry_) aws::Ec2(c_.session).terminate_instances(ids);
    }
    return running_jobs;
  }

  // Only what carries hoist's tag: a repository someone else named
  // hoist/... stays.
  void repositories() {
    aws::Ecr ecr(c_.session);
    for (const auto& repo : ecr.list_repositories("hoist/")) {
      if (!is_managed(ecr.list_tags(repo.arn))) {
        reporter_.note("kept repository " + repo.name + ": it has no " + std::string(kManagedTag) + "=true tag");
        continue;
      }
      const bool project = repo.name == options_.project_repository;
      const bool take = project ? plan_.project_repository : plan_.repository;
      const bool take_images = project ? plan_.project_images : plan_.images;
      if (take) {
        reporter_.note(would_ + "repository " + repo.name);
        if (!dry_) ecr.delete_repository(repo.name, true);
        continue;
      }
      if (!dry_ && !take_images) {
        reporter_.note("kept repository " + repo.name);
        continue;
      }
      std::vector<aws::EcrImage> images = ecr.describe_images(repo.name);
      if (take_images && !images.empty()) {
        std::vector<aws::EcrImageId> gone;
        gone.reserve(images.size());
        for (const auto& i : images) gone.push_back({i.digest, ""});
        reporter_.note(would_ + std::to_string(images.size()) + " image(s) of repository " + repo.name);
        if (!dry_) ecr.batch_delete_image(repo.name, gone);
        images.clear();
      }
      std::uint64_t bytes = 0;
      for (const auto& i : images) bytes += i.size;
      stays_.push_back("repository " + repo.name + " (" + std::to_string(images.size()) + " images, " +
                       monthly(bytes, kEcrUsdPerGbMonth, "ECR") + ")");
    }
  }

  // Every job's role whose instance is ended (above), then the old shared
  // one. The boundary stays: an administrator's.
  void roles(const std::set<std::string>& running_jobs) {
    aws::Iam iam(c_.session);
    std::vector<std::string> job_roles;
    for (const auto& r : iam.list_roles(kJobRolePath)) {
      auto id = job_of_role(r.name);
      if (!id) continue;
      if (running_jobs.contains(*id)) {
        reporter_.note("kept the role of job " + *id + ": its instance runs (add instances to --only to end it)");
        continue;
      }
      const auto managed = managed_role(iam, r.name, reporter_);
      if (!managed) continue;
      // [keep] role = "keep": only `down --only role` (or --all) takes it.
      if (role_kept_until(managed->tags) == "keep" && !options_.all && !options_.only.contains("role")) {
        reporter_.note(kept_role_note(*id, "keep"));
        continue;
      }
      job_roles.push_back(*id);
    }
    if (!dry_)
      aws::parallel_for(job_roles.size(), 4, [&](std::size_t i) { delete_job_role(c_.session, job_roles[i]); });
    if (!job_roles.empty())
      reporter_.note((dry_ ? "would delete " : "deleted ") + std::to_string(job_roles.size()) + " job role(s)");
    const std::string legacy = legacy_role_name(c_.account.region);
    if (!dry_) {
      remove_legacy_role(iam, legacy, reporter_);
    } else if (iam.get_role(legacy)) {
      reporter_.note(would_ + "role " + legacy + " (if tagged as hoist's)");
    }
  }

  void topic() {
    const std::string topic_arn = notify_topic_arn(c_.account);
    aws::Sns sns(c_.session);
    auto tags = sns.topic_tags(topic_arn);
    if (!tags) return;
    if (!is_managed(*tags)) {
      reporter_.note("kept topic " + std::string(kNotifyTopic) + ": it has no " + std::string(kManagedTag) +
                     "=true tag");
    } else if (plan_.topic) {
      reporter_.note(would_ + "topic " + kNotifyTopic);
      if (!dry_) sns.delete_topic(topic_arn);
    } else {
      stays_.push_back("topic " + std::string(kNotifyTopic) + " (no storage cost)");
    }
  }

  // Only a bucket tagged as hoist's is emptied: --bucket may name any.
  void bucket() {
    aws::S3 s3(c_.session);
    if (!s3.head_bucket(c_.bucket)) return;
    const bool ours = is_managed(s3.bucket_tags(c_.bucket).value_or(aws::Tags{}));
    if (plan_.bucket && !ours) {
      reporter_.note("kept bucket " + c_.bucket + ": it has no " + std::string(kManagedTag) + "=true tag");
      return;
    }
    if (!plan_.bucket && !dry_) {
      reporter_.note("kept bucket " + c_.bucket + " (use --all to delete it and every job's outputs)");
      return;
    }
    std::vector<std::string> keys;
    std::uint64_t bytes = 0;
    s3.list_objects(c_.bucket, "", [&](const aws::ObjectInfo& o) {
      keys.push_back(o.key);
      bytes += o.size;
    });
    if (plan_.bucket) {
      if (!dry_) {
        s3.delete_objects(c_.bucket, keys);
        s3.delete_bucket(c_.bucket);
      }
      reporter_.note((dry_ ? "would delete bucket " : "deleted bucket ") + c_.bucket + " (" +
                     std::to_string(keys.size()) + " objects)");
      return;
    }
    const auto* const price =
        std::ranges::find(kStoragePrices, std::string_view(c_.account.region), &StoragePrice::region);
    const std::string where = price != kStoragePrices.end()
                                  ? c_.account.region
                                  : "us-east-1 (" + c_.account.region + " is not in hoist's table)";
    const double usd = price != kStoragePrices.end() ? price->s3 : kStoragePrices[0].s3;
    stays_.push_back("bucket " + c_.bucket + " (" + std::to_string(keys.size()) + " objects, " +
                     monthly(bytes, usd, "S3 Standard in " + where) + ")");
  }

  const Connected& c_;
  const DownOptions& options_;
  const DownPlan& plan_;
  Reporter& reporter_;
  const bool dry_;
  const std::string would_;
  std::vector<std::string> stays_;  // what is kept, with its storage cost
};

}  // namespace

bool down(const Connected& c, const DownOptions& options, Reporter& reporter) {
  check_down_options(options);
  const DownPlan plan = plan_down(options);
  if (!options.dry_run && !options.yes) {
    const Go go = confirm_down(c, plan, reporter);
    if (go != Go::on) return go == Go::nothing_to_do;
  }
  Down(c, options, plan, reporter).run();
  return true;
}

}  // namespace hoist::job
