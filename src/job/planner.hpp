#pragma once
// Picks the instance for a job and says what it will cost. Prices are
// us-east-1 on-demand list prices (USD per hour) built into hoist; spot
// prices come from the account's DescribeSpotPriceHistory at run time.
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "job/project.hpp"
#include "util/error.hpp"

namespace hoist::aws {
struct Session;
}

namespace hoist::job {

class Reporter;

using Clock = std::chrono::system_clock;

// Where a figure (a type's facts, a price) came from.
struct Provenance {
  enum class Source { live, cache, bundled };
  Source source = Source::bundled;
  Clock::time_point as_of{};  // when it was fetched from AWS (live, cache)
  std::string note;           // why the bundled table: "the Pricing API could not be reached (...)"
  // "Pricing API", "cached 3 h ago", "bundled table of 2026-11-24 (us-east-1 list prices)".
  [[nodiscard]] std::string describe(Clock::time_point now, const std::string& api) const;
};

// The bundled table's date and source, said beside every figure taken from it.
inline constexpr const char* kBundledDate = "2026-11-24";
inline constexpr const char* kBundledSource = "AWS's EC2 on-demand price list, us-east-1, Linux";

struct InstanceType {
  std::string name;
  int vcpus;
  double memory_gib;
  int gpus;
  std::string gpu_name;  // "T4", "A10G", ...
  double gpu_memory_gib;
  double on_demand_usd_per_hour;
  std::string arch;  // "x86_64" or "arm64"
};

inline constexpr const char* kDefaultInstanceType = "t3.medium";
// gp3 list price per GiB-month, turned into an hourly rate.
inline constexpr double kEbsUsdPerGibHour = 0.08 / 730.0;
// Disk beyond the image and the inputs: the container image (a GPU
// framework's is several GiB), the outputs and the logs.
inline constexpr int kDiskRoomGib = 10;

const std::vector<InstanceType>& instance_catalog();
std::optional<InstanceType> find_instance_type(const std::string& name);
// "m7g.large" -> arm64 (Graviton families: a1, and <family><gen>g<...>).
std::string architecture_of(const std::string& instance_type);

// EC2 bills Linux instances (on-demand and spot) and their EBS volumes per
// second with a one-minute minimum.
constexpr std::chrono::seconds kMinimumBilled{60};
std::chrono::seconds billed_seconds(std::chrono::seconds ran);
// What `ran` of an instance at `usd_per_hour` is billed.
double billed_usd(double usd_per_hour, std::chrono::seconds ran);

// A spot price in one availability zone.
struct ZonePrice {
  std::string zone;
  double usd_per_hour = 0;
};
// One price per zone (its lowest), cheapest zone first; ties by zone name.
std::vector<ZonePrice> cheapest_zones(std::vector<ZonePrice> prices);

struct InstancePlan {
  InstanceType type;
  bool spot = false;
  // --spot: the zones to try, cheapest first (empty: EC2 picks one). The
  // price below is that of the zone the instance is (to be) in.
  std::vector<ZonePrice> spot_zones;
  std::string zone;  // the zone usd_per_hour is for ("" when not priced by zone)
  // On-demand: the zones that offer the type (from the region's catalog;
  // empty when unknown), tried in turn when EC2's own pick has no capacity.
  std::vector<std::string> offered_zones;
  // A type picked by --cpus/--memory/--gpus: the next cheapest that fit, of
  // the same architecture and kind (GPU or not, so the image still serves),
  // launched instead when no zone has room for this one.
  struct Alternative {
    InstanceType type;
    double on_demand_usd_per_hour = 0;
    Provenance price_from;
    std::vector<std::string> zones;
  };
  std::vector<Alternative> alternatives;
  // Which launch of the job this plan is for (0 first; each alternative
  // tried is one more): its RunInstances idempotency tokens differ.
  int launch_attempt = 0;
  double usd_per_hour = 0;  // instance (spot or on-demand) + disk
  bool price_known = true;  // false for a type missing from the catalog
  int disk_gib = 0;
  std::chrono::seconds max_runtime{0};
  // Where the on-demand price came from; why this type; the next cheapest
  // that fit ("" when the type was named or is the default).
  Provenance price_from;
  std::string reason;
  std::string runner_up;
  double runner_up_usd_per_hour = 0;
  bool runner_up_spot = false;  // that price is its spot price (a --spot plan ranked by spot)
  // The instance's own price (spot or on-demand, without the disk), and for
  // spot the on-demand price that bounds a --budget.
  double instance_usd_per_hour = 0;
  double on_demand_usd_per_hour = 0;
  // Said beside the plan: a fallback taken, a cache used.
  std::vector<std::string> notes;
  // Said with the plan, a line each: why this type, its price and where it
  // came from, the expected and the worst cost, a budget's deadline.
  std::vector<std::string> costs;
  [[nodiscard]] double worst_case_usd() const;
  // Grows the root disk to the image's own size when that is larger (EC2
  // refuses a root disk smaller than the image's snapshot); the price
  // follows. True when it grew.
  bool fit_image(int image_root_gib);
  // Room for the inputs: the instance stages them on its root disk, beside
  // the system, the container image and the outputs.
  //  - A default disk grows to the image's size + the inputs + kDiskRoomGib
  //    (price follows): `grew`.
  //  - A chosen one (--disk, hoist.toml) is kept: `tight` when it leaves
  //    less than kDiskRoomGib beside the system and the inputs; throws
  //    Fatal(Exit::bad_option) when the inputs cannot fit at all, since the
  //    job would fail at staging after its instance had booted.
  enum class DiskFit { fits, grew, tight };
  DiskFit fit_inputs(std::uint64_t input_bytes, int image_root_gib, bool chosen);
  // Prices the plan at the spot price of `where`; false (and nothing
  // changed) when it is not one of spot_zones.
  bool price_spot_in(const std::string& where);
  [[nodiscard]] double cost_usd(std::chrono::seconds ran) const;  // billed_usd of this plan
};

// What --cpus/--memory/--gpus/--gpu-type/--arch ask for.
struct Wants {
  int cpus = 0;
  double memory_gib = 0;
  int gpus = 0;
  std::string gpu;   // upper case; "" for any
  std::string arch;  // "x86_64", "arm64", or "" for either

  Wants() = default;
  explicit Wants(const RunOptions& o);
  // True when anything is asked (the type is then picked, not named).
  [[nodiscard]] bool any() const;
  [[nodiscard]] bool fits(const InstanceType& t) const;
  // "≥4 vCPUs, ≥16 GiB, 1 A10G GPU, arm64".
  [[nodiscard]] std::string describe() const;
};
// "--arch" values: x86_64 (amd64, x86), arm64 (aarch64, graviton); "" stays
// "". Throws Fatal(Exit::bad_option) otherwise.
std::string normalise_arch(const std::string& arch);

// A plan with only what the options say (spot, disk, runtime; the type
// named or the default, its facts unknown), after checking them: a
// malformed --instance-type, --arch or --budget throws Fatal(Exit::bad_option).
InstancePlan base_plan(const RunOptions& options);

// The error for a request no type fits, naming what was searched.
Fatal nothing_fits(const Wants& want, const std::string& where);

// --instance-type wins; else the cheapest catalog type with at least
// --cpus/--memory/--gpus (and --gpu-type); else the default.
// Throws Fatal(Exit::bad_option) when nothing fits.
InstancePlan plan_instance(const RunOptions& options);

// The types whose offering in the region decides whether the plan can run:
// the plan's own first, then the alternatives worth suggesting instead (for
// --cpus/--memory/--gpus, every other catalog type that fits, cheapest first;
// for a named type, catalog names a typo or two away).
std::vector<std::string> offering_candidates(const RunOptions& options, const InstancePlan& plan);

// Throws Fatal(Exit::bad_option) when `offered` (what the region offers of
// the candidates) lacks the plan's type, naming the fix and a few offered
// alternatives.
void require_offered(const RunOptions& options, const InstancePlan& plan, const std::string& region,
                     const std::vector<std::string>& offered);

// require_offered against the region's DescribeInstanceTypeOfferings: one
// request, made with the other read-only probes. Credentials that may not
// ask only warn (RunInstances still decides).
void check_offered(const std::shared_ptr<aws::Session>& session, const RunOptions& options, const InstancePlan& plan,
                   const std::string& region, Reporter& reporter);

std::string format_usd(double usd);

}  // namespace hoist::job
