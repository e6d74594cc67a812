// The planner against a region: the cheapest fitting type for a table of
// requests, where each figure came from, the caches, --budget's deadline,
// the estimate before and the cost after, by hand calculation.
#include <gtest/gtest.h>

#include <filesystem>

#include "aws/pricing.hpp"
#include "job/choose.hpp"
#include "job/cost.hpp"
#include "job/fallback.hpp"
#include "util/error.hpp"

using namespace hoist;
using namespace hoist::job;
using namespace std::chrono_literals;

namespace {

const Clock::time_point kNow = Clock::time_point(std::chrono::seconds(1'796'000'000));

RegionCatalog region() {
  RegionCatalog c;
  c.region = "eu-west-1";
  c.from = {Provenance::Source::live, kNow, ""};
  // name, vCPUs, GiB, GPUs, GPU, GPU GiB, (price unused), arch
  c.types = {
      {"t3.xlarge", 4, 16, 0, "", 0, 0, "x86_64"},          {"m7i.xlarge", 4, 16, 0, "", 0, 0, "x86_64"},
      {"m7g.xlarge", 4, 16, 0, "", 0, 0, "arm64"},          {"c7i.xlarge", 4, 8, 0, "", 0, 0, "x86_64"},
      {"c6a.xlarge", 4, 8, 0, "", 0, 0, "x86_64"},          {"m4.xlarge", 4, 16, 0, "", 0, 0, "x86_64"},
      {"r7i.2xlarge", 8, 64, 0, "", 0, 0, "x86_64"},        {"g4dn.xlarge", 4, 16, 1, "T4", 16, 0, "x86_64"},
      {"g5.xlarge", 4, 16, 1, "A10G", 24, 0, "x86_64"},     {"g6.xlarge", 4, 16, 1, "L4", 24, 0, "x86_64"},
      {"g4dn.12xlarge", 48, 192, 4, "T4", 64, 0, "x86_64"}, {"x9.huge", 4, 16, 0, "", 0, 0, "x86_64"},
  };
  for (const auto& t : c.types) c.zones[t.name] = {"eu-west-1a", "eu-west-1b"};
  c.zones["c6a.xlarge"] = {};    // described, offered in no zone
  c.not_picked = {"m4.xlarge"};  // previous generation
  return c;
}

PriceBook prices() {
  PriceBook b;
  b.region = "eu-west-1";
  b.from = {Provenance::Source::cache, kNow - 3h, ""};
  b.on_demand = {{"t3.xlarge", 0.1824}, {"m7i.xlarge", 0.2226}, {"m7g.xlarge", 0.1784},  {"c7i.xlarge", 0.1982},
                 {"c6a.xlarge", 0.1},   {"m4.xlarge", 0.111},   {"r7i.2xlarge", 0.588},  {"g4dn.xlarge", 0.587},
                 {"g5.xlarge", 1.123},  {"g6.xlarge", 0.8866},  {"g4dn.12xlarge", 4.377}};
  return b;  // x9.huge: no price anywhere
}

RunOptions options() {
  RunOptions o;
  o.disk_gib = 30;
  o.max_runtime = 4h;
  return o;
}

}  // namespace

TEST(PlannerChoose, TheCheapestFittingOfferedPricedTypeForATableOfRequests) {
  struct Case {
    int cpus;
    double memory;
    int gpus;
    std::string gpu, arch, want, runner_up;
  };
  const std::vector<Case> table = {
      // burstable t3 left out for a CPU request; c6a offered nowhere; m4 an old generation
      {4, 0, 0, "", "", "m7g.xlarge", "c7i.xlarge"},
      {4, 16, 0, "", "", "m7g.xlarge", "m7i.xlarge"},
      {4, 16, 0, "", "x86_64", "m7i.xlarge", "r7i.2xlarge"},
      {0, 32, 0, "", "", "r7i.2xlarge", ""},
      {0, 0, 1, "", "", "g4dn.xlarge", "g6.xlarge"},
      {0, 0, 1, "a10g", "", "g5.xlarge", ""},
      {0, 0, 2, "", "", "g4dn.12xlarge", ""},
      {0, 16, 0, "", "", "m7g.xlarge", "t3.xlarge"},  // memory alone: burstable fits
  };
  for (const auto& c : table) {
    auto o = options();
    o.cpus = c.cpus;
    o.memory_gib = c.memory;
    o.gpus = c.gpus;
    o.gpu_type = c.gpu;
    o.arch = c.arch;
    const auto plan = choose_instance(o, region(), prices(), kNow);
    EXPECT_EQ(plan.type.name, c.want) << c.cpus << " " << c.memory << " " << c.gpus << c.gpu << c.arch;
    EXPECT_EQ(plan.runner_up, c.runner_up) << c.want;
    EXPECT_NEAR(plan.usd_per_hour, prices().on_demand.at(c.want) + 30 * kEbsUsdPerGibHour, 1e-12);
    EXPECT_NE(plan.reason.find("the cheapest on-demand of"), std::string::npos) << plan.reason;
    EXPECT_EQ(plan.price_from.source, Provenance::Source::cache);
  }
  auto o = options();
  o.cpus = 4;
  const auto plan = choose_instance(o, region(), prices(), kNow);
  EXPECT_EQ(plan.reason,
            "the cheapest on-demand of 4 fitting types (>= 4 vCPUs) in the 12 types of eu-west-1, offered in 2 zones; "
            "1 more fit but have no price");
  EXPECT_NEAR(plan.runner_up_usd_per_hour, 0.1982, 1e-12);
  EXPECT_EQ(plan.type.arch, "arm64");
  o.cpus = 64;
  try {
    choose_instance(o, region(), prices(), kNow);
    FAIL() << "64 vCPUs fit nothing";
  } catch (const Fatal& e) {
    EXPECT_EQ(e.code(), Exit::bad_option);
    EXPECT_EQ(std::string(e.what()),
              "no instance type in the 12 types of eu-west-1 has >= 64 vCPUs: ask for less (see `hoist types`), or "
              "name one with --instance-type");
  }
  o.cpus = 0;
  o.arch = "sparc";
  EXPECT_THROW(choose_instance(o, region(), prices(), kNow), Fatal);
}

TEST(PlannerChoose, ANamedTypeWinsAndEachPriceSaysWhereItCameFrom) {
  auto o = options();
  o.cpus = 4;
  o.instance_type = "g5.xlarge";  // wins over --cpus
  auto plan = choose_instance(o, region(), prices(), kNow);
  EXPECT_EQ(plan.type.name, "g5.xlarge");
  EXPECT_EQ(plan.type.gpus, 1);
  EXPECT_TRUE(plan.reason.empty());
  EXPECT_EQ(plan.price_from.describe(kNow, "Pricing API"), "Pricing API, cached 3 h ago");
  // A type the API did not price: the bundled table's, saying so.
  o.instance_type = "p3.2xlarge";
  plan = choose_instance(o, region(), prices(), kNow);
  EXPECT_NEAR(plan.on_demand_usd_per_hour, 3.06, 1e-12);
  EXPECT_EQ(plan.price_from.describe(kNow, "Pricing API"),
            "hoist's bundled table of 2026-11-24 (AWS's EC2 on-demand price list, us-east-1, Linux)");
  o.instance_type = "x9.huge";
  EXPECT_FALSE(choose_instance(o, region(), prices(), kNow).price_known);
  // The default, priced live.
  auto live = prices();
  live.from = {Provenance::Source::live, kNow, ""};
  live.on_demand["t3.medium"] = 0.0456;
  plan = choose_instance(options(), region(), live, kNow);
  EXPECT_EQ(plan.type.name, "t3.medium");
  EXPECT_EQ(plan.price_from.describe(kNow, "Pricing API"), "Pricing API");
  EXPECT_NEAR(plan.instance_usd_per_hour, 0.0456, 1e-12);
  // The bundled catalog and prices when the region cannot be asked: said in the notes.
  plan = choose_instance(options(), bundled_catalog("eu-west-1", "the region's instance types could not be read (x)"),
                         bundled_prices("eu-west-1", "the Pricing API could not be reached (NetworkError)"), kNow);
  EXPECT_EQ(plan.notes.size(), 2u);
  EXPECT_NEAR(plan.on_demand_usd_per_hour, 0.0416, 1e-12);
}

TEST(PlannerChoose, PriceListEntriesAsAwsWritesThem) {
  const std::string entry = R"({"product":{"productFamily":"Compute Instance","attributes":{"instanceType":"g5.xlarge",
    "regionCode":"eu-west-1"},"sku":"X"},"terms":{"OnDemand":{"X.JRTCKXETXF":{"priceDimensions":{"X.JRTCKXETXF.6YS6EN2CT7":
    {"unit":"Hrs","pricePerUnit":{"USD":"1.1230000000"}}}}}}})";
  const auto p = aws::parse_price_entry(entry);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->instance_type, "g5.xlarge");
  EXPECT_NEAR(p->usd_per_hour, 1.123, 1e-12);
  EXPECT_FALSE(aws::parse_price_entry("{}"));
  EXPECT_FALSE(aws::parse_price_entry("not json"));
  EXPECT_FALSE(aws::parse_price_entry(R"({"product":{"attributes":{"instanceType":"a"}},"terms":{"OnDemand":{}}})"));
}

TEST(PlannerChoose, CachesKeepTheirDateAndExpire) {
  const std::string dir = ::testing::TempDir() + "/hoist-choose-" + std::to_string(::getpid());
  std::filesystem::remove_all(dir);
  // The catalog: written as the live one was, read back as a cache of that date.
  auto live = region();
  live.from.as_of = kNow - 2h;
  write_cache_file(dir + "/catalog-eu-west-1.json", live.to_json());
  auto cached = cached_catalog("eu-west-1", dir, kNow);
  ASSERT_TRUE(cached);
  EXPECT_EQ(cached->types.size(), live.types.size());
  EXPECT_EQ(cached->zones.at("g5.xlarge"), live.zones.at("g5.xlarge"));
  EXPECT_TRUE(cached->not_picked.contains("m4.xlarge"));
  EXPECT_EQ(cached->from.describe(kNow, "DescribeInstanceTypes"), "DescribeInstanceTypes, cached 2 h ago");
  EXPECT_FALSE(cached_catalog("eu-west-1", dir, kNow + kCatalogMaxAge));
  EXPECT_FALSE(cached_catalog("../etc", dir, kNow));
  // Prices: a fresh full list answers without a request (no session).
  nlohmann::json doc = {
      {"region", "eu-west-1"},
      {"complete_at", std::chrono::duration_cast<std::chrono::seconds>((kNow - 1h).time_since_epoch()).count()},
      {"prices", {{"g5.xlarge", {{"usd", 1.123}, {"at", 0}}}}}};
  write_cache_file(dir + "/prices-eu-west-1.json", doc);
  auto book = load_prices(nullptr, "eu-west-1", {}, dir, kNow);
  EXPECT_EQ(book.from.source, Provenance::Source::cache);
  EXPECT_NEAR(book.find("g5.xlarge")->usd_per_hour, 1.123, 1e-12);
  // One type the full list lacks: no price in the region, from the cache too.
  book = load_prices(nullptr, "eu-west-1", {"zz.none"}, dir, kNow);
  EXPECT_EQ(book.from.source, Provenance::Source::cache);
  EXPECT_FALSE(book.find("zz.none"));
  // An API that could not be reached is not asked again for an hour.
  doc.erase("complete_at");
  doc["unreachable_at"] = std::chrono::duration_cast<std::chrono::seconds>((kNow - 10min).time_since_epoch()).count();
  doc["unreachable"] = "NetworkError";
  write_cache_file(dir + "/prices-eu-west-1.json", doc);
  book = load_prices(nullptr, "eu-west-1", {}, dir, kNow);
  EXPECT_EQ(book.from.source, Provenance::Source::bundled);
  EXPECT_NE(book.from.note.find("could not be reached at"), std::string::npos) << book.from.note;
  EXPECT_NEAR(book.find("t3.medium")->usd_per_hour, 0.0416, 1e-12);
  std::filesystem::remove_all(dir);
}

TEST(PlannerCost, BudgetSetsTheDeadlineFromTheOnDemandPrice) {
  auto o = options();
  o.instance_type = "g4dn.xlarge";
  auto plan = choose_instance(o, region(), prices(), kNow);
  // $0.50 at 0.587 + 30 x 0.08/730 = 0.590288 $/h buys 3049 s; less the 120 s margin: 2929 s.
  EXPECT_TRUE(apply_budget(plan, 0.50));
  EXPECT_EQ(plan.max_runtime, std::chrono::seconds(3049 - 120));
  EXPECT_LE(plan.worst_case_usd(), 0.50);
  // Spot: the on-demand price bounds it, not the (lower) spot price.
  auto spot = choose_instance(o, region(), prices(), kNow);
  spot.spot = true;
  spot.spot_zones = {{"eu-west-1b", 0.2}};
  ASSERT_TRUE(spot.price_spot_in("eu-west-1b"));
  EXPECT_TRUE(apply_budget(spot, 0.50));
  EXPECT_EQ(spot.max_runtime, plan.max_runtime);
  // A budget past --max-runtime changes nothing.
  auto big = choose_instance(o, region(), prices(), kNow);
  EXPECT_FALSE(apply_budget(big, 100));
  EXPECT_EQ(big.max_runtime, 4h);
  // One too small for the one-minute minimum and the margin is refused.
  try {
    apply_budget(big, 0.01);
    FAIL();
  } catch (const Fatal& e) {
    EXPECT_EQ(e.code(), Exit::bad_option);
    EXPECT_NE(std::string(e.what()).find("raise it to at least $0.0295"), std::string::npos) << e.what();
  }
  o.instance_type = "x9.huge";  // no price: no budget can be kept
  auto unknown = choose_instance(o, region(), prices(), kNow);
  EXPECT_THROW(apply_budget(unknown, 5), Fatal);
  o.budget_usd = -1;
  EXPECT_THROW(base_plan(o), Fatal);
}

TEST(PlannerCost, EstimateAndActualCostMatchAHandCalculation) {
  auto o = options();
  o.instance_type = "m7i.xlarge";
  const auto plan = choose_instance(o, region(), prices(), kNow);
  const double hourly = 0.2226 + 30 * 0.08 / 730;
  // The median of 5 previous runs: 600 s; of 4: (300 + 600) / 2.
  const auto e = estimate(plan, {100s, 900s, 600s, 300s, 7200s});
  ASSERT_TRUE(e.expected);
  EXPECT_EQ(*e.expected, 600s);
  EXPECT_EQ(e.runs, 5u);
  EXPECT_NEAR(e.expected_usd, hourly * 600 / 3600, 1e-12);
  EXPECT_NEAR(e.worst_usd, hourly * 4, 1e-12);
  EXPECT_EQ(*median({300s, 600s, 900s, 7200s}), 750s);
  EXPECT_FALSE(estimate(plan, {}).expected);
  const auto lines = describe_costs(plan, e, 0, false, kNow);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0],
            "price: $0.22/h on-demand (Pricing API, cached 3 h ago) + 30 GiB gp3 disk $0.0033/h (list price) = "
            "$0.23/h");
  EXPECT_EQ(lines[1],
            "cost: expected $0.0376 (10m, the median of 5 previous runs of this project); at most $0.90 (4h, "
            "--max-runtime)");
  // After: a spot run of 30 min from 12:00 at $0.10/h, the price $0.20/h from 12:10 and $0.05/h from 12:20
  // (a price from before the start applies from the start): 10 x 0.10 + 10 x 0.20 + 10 x 0.05 = $0.0583.
  const std::vector<aws::SpotPrice> history = {{"m7i.xlarge", "eu-west-1a", 0.20, "2026-12-01T12:10:00Z"},
                                               {"m7i.xlarge", "eu-west-1a", 0.10, "2026-12-01T11:00:00Z"},
                                               {"m7i.xlarge", "eu-west-1a", 0.05, "2026-12-01T12:20:00.000Z"}};
  const auto start = Clock::from_time_t(1'796'126'400);  // 2026-12-01T12:00:00Z
  EXPECT_NEAR(spot_cost_usd(history, start, 1800s), (0.10 + 0.20 + 0.05) * 10 / 60, 1e-12);
  // Ten seconds are billed as a minute.
  EXPECT_NEAR(spot_cost_usd(history, start, 10s), 0.10 / 60, 1e-12);
}

TEST(PlannerChoose, APickedTypeHasAlternativesOfItsArchitectureAndKind) {
  auto o = options();
  o.cpus = 4;
  auto plan = choose_instance(o, region(), prices(), kNow);
  ASSERT_EQ(plan.type.name, "m7g.xlarge");  // arm64: the x86 fits are no alternative (another image)
  EXPECT_TRUE(plan.alternatives.empty());
  o.arch = "x86_64";
  plan = choose_instance(o, region(), prices(), kNow);
  ASSERT_EQ(plan.type.name, "c7i.xlarge");
  ASSERT_EQ(plan.alternatives.size(), 2u);
  EXPECT_EQ(plan.alternatives[0].type.name, "m7i.xlarge");
  EXPECT_EQ(plan.alternatives[1].type.name, "r7i.2xlarge");
  EXPECT_EQ(plan.alternatives[0].zones, (std::vector<std::string>{"eu-west-1a", "eu-west-1b"}));
  // Switching: the next type's price, zones and a new launch attempt; the budget's deadline again.
  o.budget_usd = 0.5;
  EXPECT_TRUE(apply_budget(plan, 0.5));
  const auto first_deadline = plan.max_runtime;
  ASSERT_TRUE(switch_to(plan, plan.alternatives[0], 0.5));
  EXPECT_EQ(plan.type.name, "m7i.xlarge");
  EXPECT_EQ(plan.launch_attempt, 1);
  EXPECT_NEAR(plan.usd_per_hour, 0.2226 + 30 * kEbsUsdPerGibHour, 1e-12);
  EXPECT_LT(plan.max_runtime, first_deadline);
  // One the budget cannot buy is passed over, the plan unchanged.
  auto dear = plan;
  EXPECT_FALSE(switch_to(dear, {{"p9.huge", 8, 64, 0, "", 0, 0, "x86_64"}, 500.0, {}, {}}, 0.5));
  EXPECT_EQ(dear.type.name, "m7i.xlarge");
  // A named type has none.
  o = options();
  o.instance_type = "c7i.xlarge";
  EXPECT_TRUE(choose_instance(o, region(), prices(), kNow).alternatives.empty());
}

TEST(PlannerChoose, ASpotJobIsTheCheapestFittingTypeOnTheSpotMarket) {
  RunOptions o = options();
  o.cpus = 4;
  o.memory_gib = 16;
  o.spot = true;
  // On demand m7g.xlarge is the cheapest that fits (t3 is
  // burstable, x9.huge unpriced, r7i.2xlarge dearer); on the spot market
  // m7i.xlarge is.
  const SpotPrices spot = {{"m7i.xlarge", 0.061}, {"m7g.xlarge", 0.07}};
  EXPECT_EQ(fitting_type_names(o, region(), prices()),
            (std::vector<std::string>{"m7g.xlarge", "m7i.xlarge", "r7i.2xlarge"}));
  const InstancePlan plan = choose_instance(o, region(), prices(), kNow, &spot);
  EXPECT_EQ(plan.type.name, "m7i.xlarge");
  EXPECT_EQ(plan.runner_up, "m7g.xlarge");
  EXPECT_DOUBLE_EQ(plan.runner_up_usd_per_hour, 0.07);
  EXPECT_TRUE(plan.runner_up_spot);
  EXPECT_TRUE(plan.reason.starts_with("the cheapest spot (now, lowest zone) of 3 fitting types")) << plan.reason;
  // Its on-demand price still bounds a budget.
  EXPECT_DOUBLE_EQ(plan.on_demand_usd_per_hour, 0.2226);
  // Without spot prices (unread), or on demand: by the on-demand price.
  EXPECT_EQ(choose_instance(o, region(), prices(), kNow).type.name, "m7g.xlarge");
  o.spot = false;
  EXPECT_EQ(choose_instance(o, region(), prices(), kNow, &spot).type.name, "m7g.xlarge");
  // A type without a spot price comes after every one with one.
  o.spot = true;
  const SpotPrices one = {{"m7i.xlarge", 0.3}};
  const InstancePlan other = choose_instance(o, region(), prices(), kNow, &one);
  EXPECT_EQ(other.type.name, "m7i.xlarge");
  EXPECT_EQ(other.runner_up, "m7g.xlarge");
  EXPECT_DOUBLE_EQ(other.runner_up_usd_per_hour, 0.1784);
  EXPECT_FALSE(other.runner_up_spot);
}
