#include "job/fallback.hpp"

#include "aws/error.hpp"
#include "job/cost.hpp"
#include "util/error.hpp"

namespace hoist::job {

bool switch_to(InstancePlan& plan, const InstancePlan::Alternative& next, double budget_usd) {
  InstancePlan moved = plan;
  moved.type = next.type;
  moved.type.on_demand_usd_per_hour = next.on_demand_usd_per_hour;
  moved.on_demand_usd_per_hour = moved.instance_usd_per_hour = next.on_demand_usd_per_hour;
  moved.price_from = next.price_from;
  moved.price_known = true;
  moved.offered_zones = next.zones;
  moved.usd_per_hour = next.on_demand_usd_per_hour + kEbsUsdPerGibHour * moved.disk_gib;
  moved.runner_up.clear();
  moved.alternatives.clear();
  ++moved.launch_attempt;
  try {
    apply_budget(moved, budget_usd);
  } catch (const Fatal&) {
    return false;  // the budget does not buy its minimum
  }
  plan = std::move(moved);
  return true;
}

bool spot_unavailable(const aws::AwsError& error) {
  return error.no_capacity() || error.is("SpotMaxPriceTooLow") || error.is("MaxSpotInstanceCountExceeded");
}

bool switch_to_on_demand(InstancePlan& plan, double budget_usd) {
  InstancePlan moved = plan;
  moved.spot = false;
  moved.spot_zones.clear();
  moved.zone.clear();
  moved.instance_usd_per_hour = moved.on_demand_usd_per_hour;
  moved.usd_per_hour = moved.on_demand_usd_per_hour + kEbsUsdPerGibHour * moved.disk_gib;
  ++moved.launch_attempt;
  try {
    apply_budget(moved, budget_usd);
  } catch (const Fatal&) {
    return false;
  }
  plan = std::move(moved);
  return true;
}

namespace {
// Every zone (and every fitting type hoist could swap in) tried: what to do.
Fatal no_room(const Job& job, const aws::AwsError& e) {
  const bool spot = job.plan.spot;
  std::string way_out = ", or --spot";
  if (spot) way_out = job.options.spot_fallback ? "" : ", or add --spot-fallback to launch it on demand then";
  return {Exit::launch_failed, "no zone of " + job.region + " has room for a " + job.plan.type.name +
                                   (spot ? " spot" : "") + " instance now (" + e.code +
                                   "): try again later, or another --instance-type or --region" + way_out};
}
}  // namespace

Launched launch_fitting(const std::shared_ptr<aws::Session>& session, Job& job, const MachineImage& image,
                        const std::string& instance_profile, Reporter& reporter,
                        const std::function<void(const Job&, const std::string&)>& switched) {
  const auto alternatives = job.plan.spot ? std::vector<InstancePlan::Alternative>{} : job.plan.alternatives;
  std::size_t next = 0;
  for (;;) {
    try {
      return launch_instance(session, job, image, instance_profile, reporter);
    } catch (const aws::AwsError& e) {
      // --spot-fallback: spot has no room for it anywhere, on demand may.
      if (job.plan.spot && job.options.spot_fallback && spot_unavailable(e) &&
          switch_to_on_demand(job.plan, job.options.budget_usd)) {
        job.options.max_runtime = job.plan.max_runtime;
        switched(job, "no spot room for a " + job.plan.type.name + " in any zone (" + e.code +
                          "): launching it on demand at " + format_usd(job.plan.on_demand_usd_per_hour) +
                          "/h (--spot-fallback)");
        continue;
      }
      if (!e.no_capacity()) throw;
      const std::string from = job.plan.type.name;
      while (next < alternatives.size() && !switch_to(job.plan, alternatives[next], job.options.budget_usd)) ++next;
      if (next == alternatives.size()) throw no_room(job, e);
      ++next;
      job.options.max_runtime = job.plan.max_runtime;
      switched(job, "no zone has room for a " + from + " (" + e.code + "): launching the next fitting type, " +
                        job.plan.type.name + ", at " + format_usd(job.plan.on_demand_usd_per_hour) + "/h");
    }
  }
}

}  // namespace hoist::job
