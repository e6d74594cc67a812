#include "job/teardown.hpp"

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

bool down(const Connected& c, const DownOptions& options, Reporter& reporter) {
  if (!options.yes &&
      !reporter.confirm(
          "this ends every running hoist instance and removes hoist's repositories and roles in " + c.account.region +
              (options.all ? " and the bucket " + c.bucket + " with every job's outputs" : "") + ". Continue?",
          false)) {
    reporter.note("nothing removed");
    return false;
  }
  aws::Ec2 ec2(c.session);
  std::vector<std::string> ids;
  for (const auto& i : managed_instances(c.session, InstanceStates::alive)) ids.push_back(i.id);
  if (!ids.empty()) {
    reporter.note("terminating " + std::to_string(ids.size()) + " running hoist instance(s)");
    ec2.terminate_instances(ids);
  }
  // Only what carries hoist's tag: a repository someone else named
  // hoist/... stays.
  aws::Ecr ecr(c.session);
  for (const auto& repo : ecr.list_repositories("hoist/")) {
    if (!is_managed(ecr.list_tags(repo.arn))) {
      reporter.note("kept repository " + repo.name + ": it has no " + std::string(kManagedTag) + "=true tag");
      continue;
    }
    reporter.note("deleting repository " + repo.name);
    ecr.delete_repository(repo.name, true);
  }
  aws::Iam iam(c.session);
  // Every job's role (their instances are ended above), then the old shared
  // one. The boundary stays: an administrator's.
  std::vector<std::string> job_roles;
  for (const auto& r : iam.list_roles(kJobRolePath))
    if (auto id = job_of_role(r.name); id && managed_role(iam, r.name, reporter)) job_roles.push_back(*id);
  aws::parallel_for(job_roles.size(), 4, [&](std::size_t i) { delete_job_role(c.session, job_roles[i]); });
  if (!job_roles.empty()) reporter.note("deleted " + std::to_string(job_roles.size()) + " job role(s)");
  remove_legacy_role(iam, legacy_role_name(c.account.region), reporter);
  aws::S3 s3(c.session);
  const bool have_bucket = s3.head_bucket(c.bucket);
  // Only a bucket tagged as hoist's is emptied: --bucket may name any.
  const bool ours = have_bucket && is_managed(s3.bucket_tags(c.bucket).value_or(aws::Tags{}));
  if (have_bucket && options.all && !ours) {
    reporter.note("kept bucket " + c.bucket + ": it has no " + std::string(kManagedTag) + "=true tag");
  } else if (have_bucket && options.all) {
    std::vector<std::string> keys;
    s3.list_objects(c.bucket, "", [&](const aws::ObjectInfo& o) { keys.push_back(o.key); });
    s3.delete_objects(c.bucket, keys);
    s3.delete_bucket(c.bucket);
    reporter.note("deleted bucket " + c.bucket + " (" + std::to_string(keys.size()) + " objects)");
  } else if (have_bucket) {
    reporter.note("kept bucket " + c.bucket + " (use --all to delete it and every job's outputs)");
  }
  return true;
}

}  // namespace hoist::job
