#include "job/planner.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdio>
#include <regex>

#include "aws/ec2.hpp"
#include "aws/error.hpp"
#include "job/reporter.hpp"
#include "util/error.hpp"

namespace hoist::job {
namespace {

// Levenshtein distance, for "did you mean" over instance type names.
std::size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// Names within a typo or two of a named type (t3.mediun, g6e.xlarge -> g6.xlarge).
constexpr std::size_t kCloseNames = 2;
// Alternatives named in the error.
constexpr std::size_t kSuggestions = 3;

// Burstable families (t2, t3, t3a, t4g): no fit for a CPU request.
bool burstable(const std::string& name) {
  return name.size() > 1 && name[0] == 't' && std::isdigit(static_cast<unsigned char>(name[1]));
}

std::string upper(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), ::toupper);
  return s;
}

}  // namespace

Wants::Wants(const RunOptions& o)
    : cpus(o.cpus), memory_gib(o.memory_gib), gpu(upper(o.gpu_type)), arch(normalise_arch(o.arch)) {
  gpus = o.gpus > 0 ? o.gpus : (gpu.empty() ? 0 : 1);
}

bool Wants::any() const {
  return cpus > 0 || memory_gib > 0 || gpus > 0 || !gpu.empty() || !arch.empty();
}

bool Wants::fits(const InstanceType& t) const {
  if (t.vcpus < cpus || t.memory_gib < memory_gib || t.gpus < gpus) return false;
  if (gpus == 0 && t.gpus > 0) return false;
  if (!gpu.empty() && upper(t.gpu_name) != gpu) return false;
  if (!arch.empty() && t.arch != arch) return false;
  return !(cpus > 0 && burstable(t.name));
}

std::string Wants::describe() const {
  std::string s;
  auto add = [&](const std::string& part) { s += (s.empty() ? "" : ", ") + part; };
  if (cpus > 0) add(">= " + std::to_string(cpus) + " vCPUs");
  if (memory_gib > 0) {
    std::array<char, 32> buf{};
    std::snprintf(buf.data(), buf.size(), "%g", memory_gib);
    add(">= " + std::string(buf.data()) + " GiB");
  }
  if (gpus > 0) add(">= " + std::to_string(gpus) + " " + (gpu.empty() ? std::string() : gpu + " ") + "GPU(s)");
  if (!arch.empty()) add(arch);
  return s;
}

std::string normalise_arch(const std::string& arch) {
  const std::string a = [&] {
    std::string l = arch;
    std::transform(l.begin(), l.end(), l.begin(), ::tolower);
    return l;
  }();
  if (a.empty()) return "";
  if (a == "x86_64" || a == "amd64" || a == "x86") return "x86_64";
  if (a == "arm64" || a == "aarch64" || a == "graviton") return "arm64";
  throw Fatal(Exit::bad_option, "--arch '" + arch + "' is not an architecture: use x86_64 or arm64");
}

const std::vector<InstanceType>& instance_catalog() {
  // The bundled table, used when the region's own types and prices cannot
  // be read (see catalog.hpp): kBundledSource as of kBundledDate.
  // name, vCPUs, GiB, GPUs, GPU, GPU GiB, USD/h (us-east-1 on-demand, Linux).
  static const std::vector<InstanceType> catalog = [] {
    std::vector<InstanceType> v = {
        {"t3.micro", 2, 1, 0, "", 0, 0.0104, ""},
        {"t3.small", 2, 2, 0, "", 0, 0.0208, ""},
        {"t3.medium", 2, 4, 0, "", 0, 0.0416, ""},
        {"t3.large", 2, 8, 0, "", 0, 0.0832, ""},
        {"t3.xlarge", 4, 16, 0, "", 0, 0.1664, ""},
        {"t3.2xlarge", 8, 32, 0, "", 0, 0.3328, ""},
        {"t4g.medium", 2, 4, 0, "", 0, 0.0336, ""},
        {"t4g.large", 2, 8, 0, "", 0, 0.0672, ""},
        {"t4g.xlarge", 4, 16, 0, "", 0, 0.1344, ""},
        {"t4g.2xlarge", 8, 32, 0, "", 0, 0.2688, ""},
        {"m7i.large", 2, 8, 0, "", 0, 0.1008, ""},
        {"m7i.xlarge", 4, 16, 0, "", 0, 0.2016, ""},
        {"m7i.2xlarge", 8, 32, 0, "", 0, 0.4032, ""},
        {"m7i.4xlarge", 16, 64, 0, "", 0, 0.8064, ""},
        {"m7i.8xlarge", 32, 128, 0, "", 0, 1.6128, ""},
        {"m7i.12xlarge", 48, 192, 0, "", 0, 2.4192, ""},
        {"m7i.16xlarge", 64, 256, 0, "", 0, 3.2256, ""},
        {"m7i.24xlarge", 96, 384, 0, "", 0, 4.8384, ""},
        {"m7g.large", 2, 8, 0, "", 0, 0.0816, ""},
        {"m7g.xlarge", 4, 16, 0, "", 0, 0.1632, ""},
        {"m7g.2xlarge", 8, 32, 0, "", 0, 0.3264, ""},
        {"m7g.4xlarge", 16, 64, 0, "", 0, 0.6528, ""},
        {"m7g.8xlarge", 32, 128, 0, "", 0, 1.3056, ""},
        {"m7g.16xlarge", 64, 256, 0, "", 0, 2.6112, ""},
        {"c7i.large", 2, 4, 0, "", 0, 0.0893, ""},
        {"c7i.xlarge", 4, 8, 0, "", 0, 0.1785, ""},
        {"c7i.2xlarge", 8, 16, 0, "", 0, 0.357, ""},
        {"c7i.4xlarge", 16, 32, 0, "", 0, 0.714, ""},
        {"c7i.8xlarge", 32, 64, 0, "", 0, 1.428, ""},
        {"c7i.16xlarge", 64, 128, 0, "", 0, 2.856, ""},
        {"c7i.24xlarge", 96, 192, 0, "", 0, 4.284, ""},
        {"c7i.48xlarge", 192, 384, 0, "", 0, 8.568, ""},
        {"c7g.large", 2, 4, 0, "", 0, 0.0725, ""},
        {"c7g.xlarge", 4, 8, 0, "", 0, 0.145, ""},
        {"c7g.2xlarge", 8, 16, 0, "", 0, 0.29, ""},
        {"c7g.4xlarge", 16, 32, 0, "", 0, 0.58, ""},
        {"c7g.8xlarge", 32, 64, 0, "", 0, 1.16, ""},
        {"c7g.16xlarge", 64, 128, 0, "", 0, 2.32, ""},
        {"r7i.large", 2, 16, 0, "", 0, 0.1323, ""},
        {"r7i.xlarge", 4, 32, 0, "", 0, 0.2646, ""},
        {"r7i.2xlarge", 8, 64, 0, "", 0, 0.5292, ""},
        {"r7i.4xlarge", 16, 128, 0, "", 0, 1.0584, ""},
        {"r7i.8xlarge", 32, 256, 0, "", 0, 2.1168, ""},
        {"r7i.16xlarge", 64, 512, 0, "", 0, 4.2336, ""},
        {"r7g.large", 2, 16, 0, "", 0, 0.1071, ""},
        {"r7g.xlarge", 4, 32, 0, "", 0, 0.2142, ""},
        {"r7g.2xlarge", 8, 64, 0, "", 0, 0.4284, ""},
        {"r7g.4xlarge", 16, 128, 0, "", 0, 0.8568, ""},
        {"r7g.8xlarge", 32, 256, 0, "", 0, 1.7136, ""},
        {"r7g.16xlarge", 64, 512, 0, "", 0, 3.4272, ""},
        {"g4dn.xlarge", 4, 16, 1, "T4", 16, 0.526, ""},
        {"g4dn.2xlarge", 8, 32, 1, "T4", 16, 0.752, ""},
        {"g4dn.4xlarge", 16, 64, 1, "T4", 16, 1.204, ""},
        {"g4dn.8xlarge", 32, 128, 1, "T4", 16, 2.176, ""},
        {"g4dn.12xlarge", 48, 192, 4, "T4", 64, 3.912, ""},
        {"g5.xlarge", 4, 16, 1, "A10G", 24, 1.006, ""},
        {"g5.2xlarge", 8, 32, 1, "A10G", 24, 1.212, ""},
        {"g5.4xlarge", 16, 64, 1, "A10G", 24, 1.624, ""},
        {"g5.8xlarge", 32, 128, 1, "A10G", 24, 2.448, ""},
        {"g5.12xlarge", 48, 192, 4, "A10G", 96, 5.672, ""},
        {"g5.48xlarge", 192, 768, 8, "A10G", 192, 16.288, ""},
        {"g6.xlarge", 4, 16, 1, "L4", 24, 0.8048, ""},
        {"g6.2xlarge", 8, 32, 1, "L4", 24, 0.9776, ""},
        {"g6.4xlarge", 16, 64, 1, "L4", 24, 1.3232, ""},
        {"g6.12xlarge", 48, 192, 4, "L4", 96, 4.6016, ""},
        {"g6e.xlarge", 4, 32, 1, "L40S", 48, 1.861, ""},
        {"p3.2xlarge", 8, 61, 1, "V100", 16, 3.06, ""},
        {"p3.8xlarge", 32, 244, 4, "V100", 64, 12.24, ""},
        {"p4d.24xlarge", 96, 1152, 8, "A100", 320, 32.7726, ""},
        {"p5.48xlarge", 192, 2048, 8, "H100", 640, 98.32, ""},
    };
    for (auto& t : v) t.arch = architecture_of(t.name);
    return v;
  }();
  return catalog;
}

std::string architecture_of(const std::string& type) {
  static const std::regex graviton("^(a1|[a-z]+[0-9]+g[a-z]*)\\..*");
  // GPU families like g5g are Graviton too; g4dn/g5/g6 are not (no 'g' after the digits).
  return std::regex_match(type, graviton) ? "arm64" : "x86_64";
}

std::optional<InstanceType> find_instance_type(const std::string& name) {
  for (const auto& t : instance_catalog())
    if (t.name == name) return t;
  return std::nullopt;
}

double InstancePlan::worst_case_usd() const {
  return usd_per_hour * static_cast<double>(max_runtime.count()) / 3600.0;
}
std::chrono::seconds billed_seconds(std::chrono::seconds ran) {
  return std::max(ran, kMinimumBilled);
}

double billed_usd(double usd_per_hour, std::chrono::seconds ran) {
  return usd_per_hour * static_cast<double>(billed_seconds(ran).count()) / 3600.0;
}

std::vector<ZonePrice> cheapest_zones(std::vector<ZonePrice> prices) {
  std::sort(prices.begin(), prices.end(), [](const ZonePrice& a, const ZonePrice& b) {
    return a.zone != b.zone ? a.zone < b.zone : a.usd_per_hour < b.usd_per_hour;
  });
  prices.erase(std::unique(prices.begin(), prices.end(),
                           [](const ZonePrice& a, const ZonePrice& b) { return a.zone == b.zone; }),
               prices.end());
  std::stable_sort(prices.begin(), prices.end(),
                   [](const ZonePrice& a, const ZonePrice& b) { return a.usd_per_hour < b.usd_per_hour; });
  return prices;
}

bool InstancePlan::price_spot_in(const std::string& where) {
  const auto z = std::ranges::find(spot_zones, where, &ZonePrice::zone);
  if (z == spot_zones.end()) return false;
  usd_per_hour = z->usd_per_hour + kEbsUsdPerGibHour * disk_gib;
  instance_usd_per_hour = z->usd_per_hour;
  price_known = true;
  zone = where;
  return true;
}

bool InstancePlan::fit_image(int image_root_gib) {
  if (image_root_gib <= disk_gib) return false;
  usd_per_hour += kEbsUsdPerGibHour * (image_root_gib - disk_gib);
  disk_gib = image_root_gib;
  return true;
}

InstancePlan::DiskFit InstancePlan::fit_inputs(std::uint64_t input_bytes, int image_root_gib, bool chosen) {
  constexpr std::uint64_t gib = 1ULL << 30;
  const auto input_gib = static_cast<std::int64_t>((input_bytes + gib - 1) / gib);
  // What a system takes at the least (Amazon Linux 2023 uses about 2 GiB of
  // its 8). A default disk is sized as if the image's snapshot were full:
  // the few GiB too many cost cents a month, too few fail the job. A chosen
  // disk is judged by the least, so it is not refused on a guess.
  constexpr std::int64_t kSystemGib = 2;
  const std::int64_t wanted = std::max<std::int64_t>(image_root_gib, kSystemGib) + input_gib + kDiskRoomGib;
  if (!chosen) {
    if (wanted <= disk_gib) return DiskFit::fits;
    if (wanted > kMaxDiskGib)
      throw Fatal(Exit::bad_option, "the inputs (" + std::to_string(input_gib) + " GiB) do not fit on one " +
                                        std::to_string(kMaxDiskGib) +
                                        " GiB disk: read them from S3 in the script, or split the job");
    usd_per_hour += kEbsUsdPerGibHour * static_cast<double>(wanted - disk_gib);
    disk_gib = static_cast<int>(wanted);
    return DiskFit::grew;
  }
  if (kSystemGib + input_gib > disk_gib)
    throw Fatal(Exit::bad_option, "a " + std::to_string(disk_gib) + " GiB disk cannot hold the " +
                                      std::to_string(input_gib) + " GiB of inputs: set --disk " +
                                      std::to_string(wanted) +
                                      " (or disk in hoist.toml), or leave it out and hoist sizes the disk");
  return kSystemGib + input_gib + kDiskRoomGib > disk_gib ? DiskFit::tight : DiskFit::fits;
}

double InstancePlan::cost_usd(std::chrono::seconds ran) const {
  return billed_usd(usd_per_hour, ran);
}

InstancePlan base_plan(const RunOptions& o) {
  InstancePlan plan;
  plan.spot = o.spot;
  plan.disk_gib = o.disk_gib.value_or(kDefaultDiskGib);
  plan.max_runtime = o.max_runtime;
  static const std::regex type_shape("^[a-z][a-z0-9-]*\\.[a-z0-9]+$");
  if (!o.instance_type.empty() && !std::regex_match(o.instance_type, type_shape))
    throw Fatal(Exit::bad_option, "--instance-type '" + o.instance_type + "' is not an EC2 type like t3.medium");
  if (o.budget_usd < 0) throw Fatal(Exit::bad_option, "--budget must be a positive amount of USD, like 2.50");
  (void)Wants(o);  // --arch
  plan.type = {o.instance_type.empty() ? kDefaultInstanceType : o.instance_type,
               0,
               0,
               0,
               "",
               0,
               0,
               architecture_of(o.instance_type.empty() ? kDefaultInstanceType : o.instance_type)};
  return plan;
}

InstancePlan plan_instance(const RunOptions& o) {
  InstancePlan plan = base_plan(o);
  if (!o.instance_type.empty()) {
    if (auto t = find_instance_type(o.instance_type)) {
      plan.type = *t;
    } else {
      plan.type = {o.instance_type, 0, 0, 0, "", 0, 0, architecture_of(o.instance_type)};
      plan.price_known = false;
    }
  } else if (const Wants want(o); want.any()) {
    const InstanceType* best = nullptr;
    for (const auto& t : instance_catalog()) {
      if (!want.fits(t)) continue;
      if (!best || t.on_demand_usd_per_hour < best->on_demand_usd_per_hour) best = &t;
    }
    if (!best) throw nothing_fits(want, "hoist's bundled table");
    plan.type = *best;
  } else {
    plan.type = *find_instance_type(kDefaultInstanceType);
  }
  plan.instance_usd_per_hour = plan.on_demand_usd_per_hour = plan.type.on_demand_usd_per_hour;
  plan.usd_per_hour = plan.type.on_demand_usd_per_hour + kEbsUsdPerGibHour * plan.disk_gib;
  return plan;
}

Fatal nothing_fits(const Wants& want, const std::string& where) {
  return {Exit::bad_option, "no instance type in " + where + " has " + want.describe() +
                                ": ask for less (see `hoist types`), or name one with --instance-type"};
}

std::vector<std::string> offering_candidates(const RunOptions& o, const InstancePlan& plan) {
  std::vector<std::string> out = {plan.type.name};
  std::vector<const InstanceType*> others;
  const Wants want(o);
  const bool picked = o.instance_type.empty() && want.any();
  for (const auto& t : instance_catalog()) {
    if (t.name == plan.type.name) continue;
    if (picked ? want.fits(t) : edit_distance(t.name, plan.type.name) <= kCloseNames) others.push_back(&t);
  }
  std::stable_sort(others.begin(), others.end(), [](const InstanceType* a, const InstanceType* b) {
    return a->on_demand_usd_per_hour < b->on_demand_usd_per_hour;
  });
  for (const auto* t : others) out.push_back(t->name);
  return out;
}

void require_offered(const RunOptions& o, const InstancePlan& plan, const std::string& region,
                     const std::vector<std::string>& offered) {
  if (std::ranges::find(offered, plan.type.name) != offered.end()) return;
  // The alternatives in the candidates' order (cheapest first), not EC2's.
  std::string alternatives;
  std::size_t named = 0;
  for (const auto& name : offering_candidates(o, plan)) {
    if (name == plan.type.name || std::ranges::find(offered, name) == offered.end()) continue;
    if (named++ == kSuggestions) break;
    alternatives += (alternatives.empty() ? "" : ", ") + name;
  }
  const bool named_type = !o.instance_type.empty();
  const bool picked = !named_type && Wants(o).any();
  const std::string what = named_type ? "--instance-type " + plan.type.name
                           : picked   ? plan.type.name + " (the cheapest type for --cpus/--memory/--gpus)"
                                      : plan.type.name + " (hoist's default type)";
  throw Fatal(Exit::bad_option, what + " is not offered in " + region + ": pick another --instance-type or --region" +
                                    (alternatives.empty() ? "" : " (offered there: " + alternatives + ")"));
}

void check_offered(const std::shared_ptr<aws::Session>& session, const RunOptions& o, const InstancePlan& plan,
                   const std::string& region, Reporter& reporter) {
  std::vector<std::string> offered;
  try {
    offered = aws::Ec2(session).offered_instance_types(offering_candidates(o, plan));
  } catch (const aws::AwsError& e) {
    if (!e.access_denied()) throw;
    reporter.warn("could not check that " + region + " offers " + plan.type.name +
                  " (no ec2:DescribeInstanceTypeOfferings permission): a type it lacks fails only at launch");
    return;
  }
  require_offered(o, plan, region, offered);
}

std::string format_usd(double usd) {
  std::array<char, 32> buf{};
  // Cents for dollars, four decimals below ten cents, and a tiny figure (a
  // spot price of a thousandth of a cent) with its first digits rather than $0.0000.
  const char* format = usd >= 0.1 ? "$%.2f" : usd >= 0.001 || usd <= 0 ? "$%.4f" : "$%.6f";
  std::snprintf(buf.data(), buf.size(), format, usd);
  return buf.data();
}

}  // namespace hoist::job
