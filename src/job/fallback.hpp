#pragma once
// A launch that tries the next fitting type when no zone has room for the
// first (for a type picked by --cpus/--memory/--gpus, on-demand).
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "aws/error.hpp"
#include "job/launcher.hpp"
#include "job/spec.hpp"

namespace hoist::job {

// Makes `plan` the alternative `next` (its type, price and zones; the
// budget's deadline again at its price): false when the budget cannot buy it.
bool switch_to(InstancePlan& plan, const InstancePlan::Alternative& next, double budget_usd);

// Whether a spot launch failed for want of spot itself (no capacity, the
// price, the spot quota): on demand may launch.
bool spot_unavailable(const aws::AwsError& error);
// Makes a spot `plan` on demand (its price, the budget's deadline again):
// false when the budget cannot buy it.
bool switch_to_on_demand(InstancePlan& plan, double budget_usd);

// launch_instance; when it fails for want of capacity in every zone and the
// plan has alternatives, each in turn; a spot job with --spot-fallback that
// spot cannot take, on demand. job.plan (and job.options.max_runtime)
// become those of the type that launched; `switched` is called after each
// switch, before that type's launch (to record the job as it now is), with
// a line saying why.
Launched launch_fitting(const std::shared_ptr<aws::Session>& session, Job& job, const MachineImage& image,
                        const std::string& instance_profile, Reporter& reporter,
                        const std::function<void(const Job&, const std::string&)>& switched);

}  // namespace hoist::job
