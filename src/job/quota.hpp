#pragma once
// EC2's quota errors as one line a user can act on: which quota (its
// Service Quotas code), the vCPUs the instance needs, the current limit
// where EC2's message says it, and how to ask for more.
#include <exception>
#include <optional>
#include <string>

#include "job/planner.hpp"

namespace hoist::aws {
class AwsError;
}

namespace hoist::job {

struct Quota {
  std::string name;  // as the Service Quotas console names it
  std::string code;  // "L-1216C47A"; "" where hoist does not know it
};

// The vCPU quota an instance type counts against, on-demand or spot.
Quota quota_for(const std::string& instance_type, bool spot);

// The message for a quota error of RunInstances (VcpuLimitExceeded,
// InstanceLimitExceeded, MaxSpotInstanceCountExceeded); nullopt for another error.
std::optional<std::string> quota_message(const aws::AwsError& error, const InstancePlan& plan,
                                         const std::string& region);

// Throws Fatal(Exit::quota) with quota_message when `failure` is a quota
// error; returns otherwise.
void raise_if_quota(const std::exception_ptr& failure, const InstancePlan& plan, const std::string& region);

}  // namespace hoist::job
