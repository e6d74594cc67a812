// `hoist types`: the instance types of the region that fit, cheapest first,
// with their on-demand and spot prices and where each came from.
#include <cstdio>
#include <iomanip>
#include <iostream>

#include "aws/client.hpp"
#include "cli/commands.hpp"
#include "job/choose.hpp"

namespace hoist::cli {
namespace {

std::string gib(double v) {
  std::array<char, 32> buf{};
  std::snprintf(buf.data(), buf.size(), "%g", v);
  return buf.data();
}

int list_types(const job::RunOptions& o, bool by_spot, Globals& g) {
  const job::Wants want(o);
  auto session = aws::Session::create(g.aws);
  const auto now = std::chrono::system_clock::now();
  const auto list = job::fitting_types(session, session->region, want, by_spot, job::cache_root(), now);
  const std::string od_from = list.rows.empty() || !list.rows.front().on_demand
                                  ? ""
                                  : list.rows.front().on_demand->from.describe(now, "Pricing API");
  const std::string spot_from = list.spot_from.source == job::Provenance::Source::live
                                    ? "DescribeSpotPriceHistory, now, lowest zone"
                                    : list.spot_from.note;
  if (g.json) {
    nlohmann::json rows = nlohmann::json::array();
    for (const auto& r : list.rows)
      rows.push_back({{"instance_type", r.type.name},
                      {"vcpus", r.type.vcpus},
                      {"memory_gib", r.type.memory_gib},
                      {"arch", r.type.arch},
                      {"gpus", r.type.gpus},
                      {"gpu", r.type.gpu_name},
                      {"gpu_memory_gib", r.type.gpu_memory_gib},
                      {"zones", r.zones},
                      {"on_demand_usd_per_hour", r.on_demand ? nlohmann::json(r.on_demand->usd_per_hour) : nullptr},
                      {"on_demand_source", r.on_demand ? r.on_demand->from.describe(now, "Pricing API") : ""},
                      {"spot_usd_per_hour", r.spot ? nlohmann::json(r.spot->usd_per_hour) : nullptr},
                      {"spot_zone", r.spot ? r.spot->zone : ""},
                      {"spot_source", r.spot ? spot_from : ""}});
    std::cout << nlohmann::json{{"region", session->region},
                                {"types_source", list.types_from.describe(now, "DescribeInstanceTypes")},
                                {"notes", list.notes},
                                {"types", rows}}
                     .dump(2)
              << "\n";
    return 0;
  }
  if (list.rows.empty()) throw job::nothing_fits(want, session->region);
  std::cout << std::left << std::setw(16) << "TYPE" << std::setw(7) << "VCPUS" << std::setw(9) << "MEM GIB"
            << std::setw(8) << "ARCH" << std::setw(30) << "GPUS" << std::setw(13) << "ON-DEMAND/H"
            << "SPOT/H (ZONE)\n";
  for (const auto& r : list.rows) {
    const std::string gpus =
        r.type.gpus ? std::to_string(r.type.gpus) + "x " + r.type.gpu_name + " (" + gib(r.type.gpu_memory_gib) + " GiB)"
                    : "-";
    std::string od = r.on_demand ? job::format_usd(r.on_demand->usd_per_hour) : "?";
    if (r.on_demand && r.on_demand->from.source == job::Provenance::Source::bundled && !od_from.empty() &&
        list.rows.front().on_demand->from.source != job::Provenance::Source::bundled)
      od += "*";  // from the bundled table where the API had none
    std::cout << std::setw(16) << r.type.name << std::setw(7) << r.type.vcpus << std::setw(9) << gib(r.type.memory_gib)
              << std::setw(8) << r.type.arch << std::setw(30) << gpus << std::setw(13) << od
              << (r.spot ? job::format_usd(r.spot->usd_per_hour) + " (" + r.spot->zone + ")" : "?") << "\n";
  }
  std::cout << list.rows.size() << " types in " << session->region << " ("
            << list.types_from.describe(now, "DescribeInstanceTypes") << "), cheapest "
            << (by_spot ? "spot" : "on-demand") << " first\n"
            << "on-demand: Linux list price (" << od_from << ")\n"
            << "spot: " << spot_from << "\n";
  for (const auto& note : list.notes) std::cout << "note: " << note << "\n";
  return 0;
}

}  // namespace

Command register_types(CLI::App& parent, Globals& g) {
  auto* app = parent.add_subcommand("types", "The region's instance types that fit, cheapest first, with prices");
  auto o = std::make_shared<job::RunOptions>();
  auto by_spot = std::make_shared<bool>(false);
  app->add_option("--cpus", o->cpus, "At least this many vCPUs");
  app->add_option("--memory", o->memory_gib, "At least this many GiB of memory");
  app->add_option("--gpus", o->gpus, "At least this many GPUs");
  app->add_option("--gpu-type", o->gpu_type, "GPU model: T4, A10G, L4, L40S, V100, A100, H100, ...");
  app->add_option("--arch", o->arch, "x86_64 or arm64");
  app->add_flag("--spot", *by_spot, "Cheapest spot price first");
  app->add_flag("--json", g.json, "Print JSON");
  add_aws_options(*app, g);
  return {app, [o, by_spot, &g] { return list_types(*o, *by_spot, g); }};
}

}  // namespace hoist::cli
