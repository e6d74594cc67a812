#pragma once
// The instances hoist started, found by their tags (DESIGN B1), never by
// names alone; and ending what a job used.
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "aws/client.hpp"
#include "aws/ec2.hpp"

namespace hoist::job {

class Reporter;

enum class InstanceStates {
  alive,           // pending, running, stopping, stopped: still to be ended
  not_terminated,  // also shutting-down
  any,
};
// Instances tagged hoist:managed=true in these states; only `job`'s when
// it is not empty.
std::vector<aws::Instance> managed_instances(const std::shared_ptr<aws::Session>& session, InstanceStates states,
                                             const std::string& job = "");

// The instance of a job by its hoist:job tag (any state), if any: of several
// (a relaunch, say), the one still alive.
std::optional<aws::Instance> job_instance(const std::shared_ptr<aws::Session>& session, const std::string& job_id);

// Every job's instance in one DescribeInstances (any state), by job id.
std::map<std::string, aws::Instance> job_instances(const std::shared_ptr<aws::Session>& session);

// Ends what a job used: terminates its instances (idempotent; a relaunched
// spot job has one per attempt) and removes its role and instance profile,
// unless hoist.toml's [keep] role tagged the role to stay (role_kept_until).
// Safe to call more than once. The instance a
// status names is only a claim: it is ended only if its own hoist:job tag
// names this job (else the reporter is warned and it is left alone).
void release_job_resources(const std::shared_ptr<aws::Session>& session, const std::string& job_id,
                           const std::string& instance_id, Reporter& reporter);

}  // namespace hoist::job
