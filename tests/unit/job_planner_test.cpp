#include <gtest/gtest.h>

#include "job/image.hpp"
#include "job/manifest.hpp"
#include "job/naming.hpp"
#include "job/planner.hpp"
#include "util/error.hpp"

using namespace hoist;
using namespace hoist::job;

namespace {
RunOptions base() {
  RunOptions o;
  o.disk_gib = 30;
  o.max_runtime = std::chrono::hours(2);
  return o;
}
}  // namespace

TEST(Planner, DefaultsAndNamedTypes) {
  auto o = base();
  auto p = plan_instance(o);
  EXPECT_EQ(p.type.name, "t3.medium");
  EXPECT_EQ(p.type.arch, "x86_64");
  EXPECT_NEAR(p.usd_per_hour, 0.0416 + 30 * kEbsUsdPerGibHour, 1e-9);
  EXPECT_NEAR(p.worst_case_usd(), 2 * p.usd_per_hour, 1e-9);
  o.instance_type = "m7g.xlarge";
  EXPECT_EQ(plan_instance(o).type.arch, "arm64");
  o.instance_type = "x9z.huge";  // plausible, not in the catalog: launched, price unknown
  EXPECT_FALSE(plan_instance(o).price_known);
  o.instance_type = "nope";
  EXPECT_THROW(plan_instance(o), Fatal);
}

TEST(Planner, CostIsBilledPerSecondWithAOneMinuteMinimum) {
  auto p = plan_instance(base());
  EXPECT_EQ(billed_seconds(std::chrono::seconds(2)), std::chrono::seconds(60));
  EXPECT_EQ(billed_seconds(std::chrono::seconds(61)), std::chrono::seconds(61));
  EXPECT_NEAR(p.cost_usd(std::chrono::seconds(2)), p.usd_per_hour / 60, 1e-12);
  EXPECT_NEAR(p.cost_usd(std::chrono::seconds(5400)), p.usd_per_hour * 1.5, 1e-12);
  EXPECT_NEAR(billed_usd(3.6, std::chrono::seconds(0)), 0.06, 1e-12);
}

TEST(Planner, TheDiskGrowsToTheImagesOwnSizeAndThePriceFollows) {
  auto p = plan_instance(base());  // 30 GiB asked
  const double before = p.usd_per_hour;
  EXPECT_FALSE(p.fit_image(8));  // Amazon Linux: smaller than asked, nothing changes
  EXPECT_FALSE(p.fit_image(30));
  EXPECT_EQ(p.disk_gib, 30);
  EXPECT_DOUBLE_EQ(p.usd_per_hour, before);
  EXPECT_TRUE(p.fit_image(75));  // a GPU image's root snapshot
  EXPECT_EQ(p.disk_gib, 75);
  EXPECT_NEAR(p.usd_per_hour, before + 45 * kEbsUsdPerGibHour, 1e-12);
}

TEST(Planner, ADefaultDiskGrowsToHoldTheInputs) {
  constexpr std::uint64_t gib = 1ULL << 30;
  auto p = plan_instance(base());  // 30 GiB: the default
  const double before = p.usd_per_hour;
  // Small inputs beside Amazon Linux's 8 GiB: 30 is enough.
  EXPECT_EQ(p.fit_inputs(1 * gib, 8, false), InstancePlan::DiskFit::fits);
  EXPECT_EQ(p.fit_inputs(12 * gib, 8, false), InstancePlan::DiskFit::fits);  // 8 + 12 + 10
  EXPECT_EQ(p.disk_gib, 30);
  // 45.5 GiB of inputs: image 8 + inputs 46 + room 10.
  EXPECT_EQ(p.fit_inputs(45 * gib + gib / 2, 8, false), InstancePlan::DiskFit::grew);
  EXPECT_EQ(p.disk_gib, 8 + 46 + kDiskRoomGib);
  EXPECT_NEAR(p.usd_per_hour, before + (p.disk_gib - 30) * kEbsUsdPerGibHour, 1e-12);
  // A GPU image's 75 GiB snapshot (fit_image made the disk that size) gets
  // room beyond it even for small inputs.
  auto g = plan_instance(base());
  g.fit_image(75);
  EXPECT_EQ(g.fit_inputs(1000, 75, false), InstancePlan::DiskFit::grew);
  EXPECT_EQ(g.disk_gib, 75 + 1 + kDiskRoomGib);
  // An unknown image size (0) counts as the system's least.
  auto q = plan_instance(base());
  EXPECT_EQ(q.fit_inputs(20 * gib, 0, false), InstancePlan::DiskFit::grew);
  EXPECT_EQ(q.disk_gib, 2 + 20 + kDiskRoomGib);
  // Past the largest volume: an error that says what to do instead.
  auto r = plan_instance(base());
  try {
    r.fit_inputs(20000 * gib, 8, false);
    FAIL() << "no error";
  } catch (const Fatal& e) {
    EXPECT_EQ(e.code(), Exit::bad_option);
    EXPECT_NE(std::string(e.what()).find("split the job"), std::string::npos) << e.what();
  }
}

TEST(Planner, AChosenDiskIsKeptWarnedOrRefusedButNeverGrown) {
  constexpr std::uint64_t gib = 1ULL << 30;
  auto p = plan_instance(base());  // as if --disk 30
  EXPECT_EQ(p.fit_inputs(1 * gib, 8, true), InstancePlan::DiskFit::fits);
  EXPECT_EQ(p.fit_inputs(18 * gib, 8, true), InstancePlan::DiskFit::fits);   // 2 + 18 + 10
  EXPECT_EQ(p.fit_inputs(19 * gib, 8, true), InstancePlan::DiskFit::tight);  // less than 10 left
  EXPECT_EQ(p.fit_inputs(28 * gib, 8, true), InstancePlan::DiskFit::tight);  // fits beside the system, barely
  EXPECT_EQ(p.disk_gib, 30);
  try {
    p.fit_inputs(29 * gib, 8, true);  // 29 + the system's 2 > 30: it would fail at staging
    FAIL() << "no error";
  } catch (const Fatal& e) {
    EXPECT_EQ(e.code(), Exit::bad_option);
    EXPECT_EQ(std::string(e.what()),
              "a 30 GiB disk cannot hold the 29 GiB of inputs: set --disk 47 (or disk in hoist.toml), "
              "or leave it out and hoist sizes the disk");
  }
  EXPECT_EQ(p.disk_gib, 30);
}

TEST(Planner, SpotZonesCheapestFirstOnePricePerZone) {
  auto zones = cheapest_zones({{"us-east-1c", 0.020},
                               {"us-east-1a", 0.031},
                               {"us-east-1b", 0.020},
                               {"us-east-1a", 0.018},
                               {"us-east-1d", 0.025}});
  ASSERT_EQ(zones.size(), 4u);
  EXPECT_EQ(zones[0].zone, "us-east-1a");  // its lowest price, 0.018
  EXPECT_DOUBLE_EQ(zones[0].usd_per_hour, 0.018);
  EXPECT_EQ(zones[1].zone, "us-east-1b");  // a tie, by name
  EXPECT_EQ(zones[2].zone, "us-east-1c");
  EXPECT_EQ(zones[3].zone, "us-east-1d");
  EXPECT_TRUE(cheapest_zones({}).empty());

  auto o = base();
  o.spot = true;
  auto p = plan_instance(o);
  p.spot_zones = zones;
  EXPECT_TRUE(p.price_spot_in("us-east-1c"));
  EXPECT_EQ(p.zone, "us-east-1c");
  EXPECT_NEAR(p.usd_per_hour, 0.020 + 30 * kEbsUsdPerGibHour, 1e-12);
  EXPECT_FALSE(p.price_spot_in("eu-west-1a"));  // not a zone of the plan: unchanged
  EXPECT_EQ(p.zone, "us-east-1c");
}

TEST(Planner, CheapestFit) {
  auto o = base();
  o.cpus = 16;
  o.memory_gib = 64;
  auto p = plan_instance(o);
  EXPECT_GE(p.type.vcpus, 16);
  EXPECT_GE(p.type.memory_gib, 64);
  EXPECT_EQ(p.type.gpus, 0);
  for (const auto& t : instance_catalog()) {
    if (t.vcpus >= 16 && t.memory_gib >= 64 && t.gpus == 0) {
      EXPECT_LE(p.type.on_demand_usd_per_hour, t.on_demand_usd_per_hour) << t.name;
    }
  }
  o = base();
  o.gpus = 1;
  EXPECT_EQ(plan_instance(o).type.name, "g4dn.xlarge");
  o.gpu_type = "a10g";
  EXPECT_EQ(plan_instance(o).type.name, "g5.xlarge");
  o.gpus = 16;
  EXPECT_THROW(plan_instance(o), Fatal);
}

TEST(Architecture, GravitonFamilies) {
  EXPECT_EQ(architecture_of("t4g.small"), "arm64");
  EXPECT_EQ(architecture_of("c7gn.large"), "arm64");
  EXPECT_EQ(architecture_of("a1.large"), "arm64");
  EXPECT_EQ(architecture_of("g5g.xlarge"), "arm64");
  EXPECT_EQ(architecture_of("g4dn.xlarge"), "x86_64");
  EXPECT_EQ(architecture_of("c7i.large"), "x86_64");
}

TEST(Image, KeyDependsOnRequirementsPythonDockerfileAndArchitectureOnly) {
  auto a = image_spec("numpy==1.26\n", "3.11", false, "x86_64");
  EXPECT_EQ(a.key.size(), 64u);
  EXPECT_EQ(a.key, image_spec("numpy==1.26\n", "3.11", false, "x86_64").key);
  EXPECT_NE(a.key, image_spec("numpy==1.27\n", "3.11", false, "x86_64").key);
  EXPECT_NE(a.key, image_spec("numpy==1.26\n", "3.12", false, "x86_64").key);
  EXPECT_NE(a.key, image_spec("numpy==1.26\n", "3.11", true, "x86_64").key);
  // An arm64 job never reuses an amd64 image of the same requirements.
  EXPECT_NE(a.key, image_spec("numpy==1.26\n", "3.11", false, "arm64").key);
  EXPECT_EQ(a.arch, "x86_64");
  EXPECT_NE(a.dockerfile.find("python:3.11-slim"), std::string::npos);
  EXPECT_THROW(image_spec("", "3.11; rm -rf /", false, "x86_64"), Fatal);
}

TEST(Naming, JobIdsAndNames) {
  auto t = std::chrono::sys_days{std::chrono::year{2026} / 11 / 24} + std::chrono::hours(3) + std::chrono::minutes(15);
  std::string id = new_job_id("wordcount", t);
  EXPECT_EQ(id.substr(0, 26), "wordcount-20261124-031500-");
  EXPECT_TRUE(valid_job_id(id));
  EXPECT_NE(id, new_job_id("wordcount", t));  // random suffix
  EXPECT_FALSE(valid_job_id("wordcount"));
  EXPECT_FALSE(valid_job_id("../etc-20261124-031500-abcd"));
  EXPECT_EQ(bucket_name("123456789012", "eu-west-1"), "hoist-123456789012-eu-west-1");
  EXPECT_EQ(repository_name("wc"), "hoist/wc");
  EXPECT_EQ(job_of_legacy_policy("job-" + id), id);
  EXPECT_EQ(job_of_legacy_policy("hoist-instance"), std::nullopt);  // the old role's own policy
  // A job's role is named as the job, inside IAM's 64 characters even for
  // the longest project name.
  const std::string longest = new_job_id(std::string(40, 'p'), t);
  EXPECT_LE(job_role_name(longest).size(), 64U);
  EXPECT_EQ(job_of_role(job_role_name(id)), id);
  EXPECT_EQ(job_of_role("hoist-instance-us-east-1"), std::nullopt);
}

TEST(Naming, ConsoleLinksPerPartitionWithTheirPrefixEncoded) {
  EXPECT_EQ(console_url("b", "eu-west-1", "jobs/x/output/"),
            "https://s3.console.aws.amazon.com/s3/buckets/b?region=eu-west-1&prefix=jobs/x/output/&showversions=false");
  EXPECT_EQ(console_url("b", "cn-north-1", "out/"),
            "https://console.amazonaws.cn/s3/buckets/b?region=cn-north-1&prefix=out/&showversions=false");
  EXPECT_EQ(console_url("b", "us-gov-west-1", "out/"),
            "https://console.amazonaws-us-gov.com/s3/buckets/b?region=us-gov-west-1&prefix=out/&showversions=false");
  // A prefix of the user's own s3:// output may hold anything a key can.
  EXPECT_EQ(console_url("b", "eu-west-1", "my results/a&b=c+d/"),
            "https://s3.console.aws.amazon.com/s3/buckets/"
            "b?region=eu-west-1&prefix=my%20results/a%26b%3Dc%2Bd/&showversions=false");
  EXPECT_EQ(console_url("b", "us-iso-east-1", "out/"), "s3://b/out/");  // no console we know of
}

namespace {
// The message require_offered refuses with ("" when it accepts).
std::string refusal(const RunOptions& o, const std::vector<std::string>& offered) {
  try {
    require_offered(o, plan_instance(o), "ca-west-1", offered);
  } catch (const Fatal& e) {
    EXPECT_EQ(e.code(), Exit::bad_option);
    return e.what();
  }
  return "";
}
}  // namespace

// A type the region does not offer is refused before anything is created,
// with the fix and, when cheap, offered alternatives.
TEST(Planner, ATypeTheRegionLacksIsRefusedWithAlternatives) {
  auto o = base();
  o.instance_type = "zz9.bogus";
  EXPECT_EQ(offering_candidates(o, plan_instance(o)), std::vector<std::string>{"zz9.bogus"});
  EXPECT_EQ(refusal(o, {}),
            "--instance-type zz9.bogus is not offered in ca-west-1: pick another --instance-type or --region");
  o.instance_type = "t3.mediun";  // a typo: the close names are asked about in the same request
  const auto close = offering_candidates(o, plan_instance(o));
  EXPECT_EQ(close.front(), "t3.mediun");
  EXPECT_NE(std::ranges::find(close, "t3.medium"), close.end());
  EXPECT_NE(refusal(o, {"t3.medium"}).find("(offered there: t3.medium)"), std::string::npos);
  o.instance_type = "m7i.large";
  EXPECT_EQ(refusal(o, {"m7i.large"}), "");

  // --cpus: the pick (c7g.xlarge) missing, the other fits offered are named,
  // cheapest first, three at most.
  o = base();
  o.cpus = 4;
  const auto plan = plan_instance(o);
  const auto fits = offering_candidates(o, plan);
  EXPECT_EQ(fits.front(), plan.type.name);
  EXPECT_GT(fits.size(), 4u);
  for (const auto& name : fits) EXPECT_GE(find_instance_type(name)->vcpus, 4) << name;
  EXPECT_EQ(plan.type.name, "c7g.xlarge");
  const std::string msg = refusal(o, {"m7g.xlarge", "r7i.xlarge", "t3.xlarge", "m7i.xlarge", "c7i.xlarge"});
  EXPECT_EQ(msg,
            "c7g.xlarge (the cheapest type for --cpus/--memory/--gpus) is not offered in ca-west-1: pick another "
            "--instance-type or --region (offered there: m7g.xlarge, c7i.xlarge, m7i.xlarge)");
  // The default type, in a region without it.
  EXPECT_NE(refusal(base(), {}).find("t3.medium (hoist's default type) is not offered"), std::string::npos);
}

TEST(Manifest, SafeRelativeNames) {
  EXPECT_TRUE(safe_relative_name("a/b c+d=e&f%g'h\"i/é.txt"));
  EXPECT_FALSE(safe_relative_name(""));
  EXPECT_FALSE(safe_relative_name("/etc/passwd"));
  EXPECT_FALSE(safe_relative_name("a/../b"));
  EXPECT_FALSE(safe_relative_name("a//b"));
  EXPECT_FALSE(safe_relative_name("./a"));
}
