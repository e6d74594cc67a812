#pragma once
// What a job will cost before it runs (price x expected duration, plus the
// disk; the worst case from --max-runtime; a --budget's deadline) and what
// it did cost after (billed seconds x the price that applied).
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "aws/ec2.hpp"
#include "aws/s3.hpp"
#include "job/connect.hpp"
#include "job/planner.hpp"
#include "job/spec.hpp"

namespace hoist::job {

// Kept from a --budget's deadline for the instance's boot before its clock
// starts and its shutdown after it stops.
inline constexpr std::chrono::seconds kBudgetMargin{120};
// Previous runs read for the expected duration: the newest ones.
inline constexpr std::size_t kRunsForEstimate = 20;

// --budget: the longest the plan's instance may run for `budget_usd`, at
// its on-demand price (for spot too: its price may rise up to that) plus
// the disk, less kBudgetMargin. Lowers plan.max_runtime to it; true when it
// did. Throws Fatal(Exit::bad_option) when the price is unknown or the
// budget does not buy EC2's one-minute minimum and the margin.
bool apply_budget(InstancePlan& plan, double budget_usd);
// The hourly rate a budget is spent at: on-demand (even for spot) + disk.
double budget_rate(const InstancePlan& plan);

// The durations of a project's previous succeeded runs (first phase to the
// terminal one, as their status.json says), newest first, at most `limit`.
std::vector<std::chrono::seconds> previous_durations(aws::S3& s3, const std::string& bucket, const std::string& project,
                                                     std::size_t limit = kRunsForEstimate);
std::optional<std::chrono::seconds> median(std::vector<std::chrono::seconds> durations);

struct Estimate {
  std::optional<std::chrono::seconds> expected;  // the median of previous runs, when there are some
  std::size_t runs = 0;                          // how many runs it is the median of
  double expected_usd = 0;
  double worst_usd = 0;  // max_runtime at the plan's price
};
Estimate estimate(const InstancePlan& plan, const std::vector<std::chrono::seconds>& previous);

// What the plan says before a launch, a line each: why this type (and the
// runner-up), its price and where each figure came from, the expected and
// the worst cost, the budget's deadline.
std::vector<std::string> describe_costs(const InstancePlan& plan, const Estimate& estimate, double budget_usd,
                                        bool budget_shortened, std::chrono::system_clock::time_point now);

// The instance's cost of a spot run from `history` (any order; a price
// applies from its timestamp until the next), over the billed seconds from
// `start` (the one-minute minimum included). A start before the first
// price uses the first.
double spot_cost_usd(const std::vector<aws::SpotPrice>& history, std::chrono::system_clock::time_point start,
                     std::chrono::seconds ran);

// One job's cost, as `hoist cost` and `hoist ls` show it.
struct JobCost {
  std::string id, project, phase, instance_type, created_at, updated_at;
  bool spot = false;
  std::chrono::seconds ran{0};
  double usd = 0;
  bool known = false;
  int attempts = 1;   // a relaunched spot job's attempts, each billed
  std::string basis;  // how it was priced: "on-demand $0.0416/h (Pricing API)", "spot price history in us-east-1a"
};

// From the job's records and its instance's launch time ("" when EC2 no
// longer shows it: then from the job's creation, or 0 when it never
// launched). Spot runs are priced by the zone's price history over the run
// (`session` asks for it; the recorded price when it cannot be read).
JobCost job_cost(const std::shared_ptr<aws::Session>& session, aws::S3& s3, const std::string& bucket,
                 const std::string& id, const std::string& launch_time);

// The costs of these jobs, in their order: their instances in one
// DescribeInstances, their records read in parallel (not round trips one
// after another). A job the bucket lacks the job.json of is
// Fatal(Exit::not_found), or nullopt with `skip_unknown`.
std::vector<std::optional<JobCost>> job_costs(const Connected& c, const std::vector<std::string>& ids,
                                              bool skip_unknown);

}  // namespace hoist::job
