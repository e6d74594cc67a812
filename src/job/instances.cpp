#include "job/instances.hpp"

#include <algorithm>
#include <future>

#include "aws/error.hpp"
#include "aws/iam.hpp"
#include "job/account.hpp"
#include "job/naming.hpp"
#include "job/reporter.hpp"

namespace hoist::job {

std::vector<aws::Instance> managed_instances(const std::shared_ptr<aws::Session>& session, InstanceStates states,
                                             const std::string& job) {
  aws::Filters filters = {{"tag:" + std::string(kManagedTag), {"true"}}};
  if (states == InstanceStates::alive)
    filters.push_back({"instance-state-name", {"pending", "running", "stopping", "stopped"}});
  else if (states == InstanceStates::not_terminated)
    filters.push_back({"instance-state-name", {"pending", "running", "shutting-down", "stopping", "stopped"}});
  if (!job.empty()) filters.push_back({"tag:" + std::string(kJobTag), {job}});
  return aws::Ec2(session).describe_instances(filters);
}

namespace {
// Instances by their hoist:job tag; of a job's several, the one still alive.
std::map<std::string, aws::Instance> by_job_preferring_alive(std::vector<aws::Instance> found) {
  std::map<std::string, aws::Instance> out;
  for (auto& i : found) {
    auto tag = i.tags.find(std::string(kJobTag));
    if (tag == i.tags.end()) continue;
    auto [at, fresh] = out.try_emplace(tag->second, i);
    if (!fresh && i.state != "terminated") at->second = std::move(i);
  }
  return out;
}

std::string job_tag_of(const aws::Instance& inst) {
  const auto tag = inst.tags.find(std::string(kJobTag));
  return tag == inst.tags.end() ? "" : tag->second;
}
}  // namespace

std::optional<aws::Instance> job_instance(const std::shared_ptr<aws::Session>& session, const std::string& job_id) {
  auto by_job = by_job_preferring_alive(managed_instances(session, InstanceStates::any, job_id));
  auto found = by_job.find(job_id);
  if (found == by_job.end()) return std::nullopt;
  return found->second;
}

std::map<std::string, aws::Instance> job_instances(const std::shared_ptr<aws::Session>& session) {
  return by_job_preferring_alive(managed_instances(session, InstanceStates::any));
}

void release_job_resources(const std::shared_ptr<aws::Session>& session, const std::string& job_id,
                           const std::string& instance_id, Reporter& reporter) {
  aws::Ec2 ec2(session);
  std::optional<aws::Instance> inst;
  if (!instance_id.empty()) {
    try {
      inst = ec2.describe_instance(instance_id);
    } catch (const aws::AwsError& e) {
      if (!e.not_found()) throw;
    }
    if (inst && job_tag_of(*inst) != job_id) {
      const std::string tag = job_tag_of(*inst);
      reporter.warn("the status of job " + job_id + " names instance " + instance_id + ", which is not the job's (" +
                    (tag.empty() ? "no " + std::string(kJobTag) + " tag" : "tagged for " + tag) +
                    "): it is left alone");
      inst.reset();
    }
  }
  // Every instance tagged as the job's that has not ended: a relaunched
  // spot job has one per attempt.
  std::vector<std::string> ids;
  if (inst && inst->state != "terminated") ids.push_back(inst->id);
  for (const auto& i : managed_instances(session, InstanceStates::not_terminated, job_id))
    if (std::ranges::find(ids, i.id) == ids.end()) ids.push_back(i.id);
  // Meanwhile: whether hoist.toml keeps the role past its job.
  auto kept = std::async(std::launch::async, [&]() -> std::optional<std::string> {
    auto role = aws::Iam(session).get_role(job_role_name(job_id));
    return role ? role_kept_until(role->tags) : std::nullopt;
  });
  if (!ids.empty()) ec2.terminate_instances(ids);
  if (auto until = kept.get()) {
    reporter.note(kept_role_note(job_id, *until));
    return;
  }
  delete_job_role(session, job_id);
}

}  // namespace hoist::job
