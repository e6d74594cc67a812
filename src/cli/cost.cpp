// `hoist cost [JOB]`: what jobs cost (job/cost.hpp reckons it).
#include "job/cost.hpp"

#include <iomanip>
#include <iostream>
#include <regex>

#include "aws/s3.hpp"
#include "cli/commands.hpp"
#include "job/connect.hpp"
#include "job/instances.hpp"
#include "job/naming.hpp"
#include "job/planner.hpp"
#include "job/spec.hpp"
#include "util/error.hpp"

namespace hoist::cli {
namespace {

// --since: YYYY-MM-DD (or a full ISO 8601 stamp), compared with created_at.
std::string check_since(const std::string& since) {
  static const std::regex shape("^[0-9]{4}-[0-9]{2}-[0-9]{2}(T[0-9]{2}:[0-9]{2}:[0-9]{2}Z?)?$");
  if (!since.empty() && !std::regex_match(since, shape))
    throw Fatal(Exit::bad_option, "--since '" + since + "' is not a date: use YYYY-MM-DD, like 2026-11-01");
  return since;
}

}  // namespace

Command register_cost(CLI::App& parent, Globals& g) {
  auto* app = parent.add_subcommand(
      "cost", "What jobs cost: billed seconds x the price that applied (spot: its history), plus the disk");
  auto id = std::make_shared<std::string>();
  auto since = std::make_shared<std::string>();
  auto by = std::make_shared<std::string>();
  app->add_option("job", *id, "Job id (default: every job)");
  app->add_option("--since", *since, "Only jobs created on or after this date (YYYY-MM-DD)");
  app->add_option("--by", *by, "Totals by project or by month")->check(CLI::IsMember({"project", "month"}));
  app->add_flag("--json", g.json, "Print JSON");
  add_aws_options(*app, g);
  return {app, [id, since, by, &g] {
            if (!id->empty()) check_job_id(*id);
            check_since(*since);
            job::Connected c = job::connect(g.aws);
            aws::S3 s3(c.session);
            std::vector<std::string> ids = id->empty() ? job::list_job_ids(s3, c.bucket) : std::vector{*id};
            // Every job first: an unknown one fails before anything is printed.
            std::vector<job::JobCost> costs;
            for (auto& jc : job::job_costs(c, ids, false)) costs.push_back(std::move(*jc));
            std::erase_if(costs, [&](const job::JobCost& jc) { return !since->empty() && jc.created_at < *since; });
            double total = 0;
            std::map<std::string, double> groups;
            nlohmann::json out = nlohmann::json::array();
            if (!g.json && by->empty())
              std::cout << std::left << std::setw(48) << "JOB" << std::setw(14) << "TYPE" << std::setw(11) << "PHASE"
                        << std::setw(10) << "TIME" << std::setw(10) << "COST"
                        << "PRICED BY\n";
            for (const auto& jc : costs) {
              total += jc.usd;
              groups[*by == "month" ? jc.created_at.substr(0, 7) : jc.project] += jc.usd;
              if (!by->empty()) continue;
              if (g.json) {
                out.push_back({{"job_id", jc.id},
                               {"project", jc.project},
                               {"instance_type", jc.instance_type},
                               {"spot", jc.spot},
                               {"phase", jc.phase},
                               {"created_at", jc.created_at},
                               {"seconds", jc.ran.count()},
                               {"billed_seconds", job::billed_seconds(jc.ran).count()},
                               {"usd", jc.usd},
                               {"priced_by", jc.basis},
                               {"price_known", jc.known}});
              } else {
                std::cout << std::setw(48) << jc.id << std::setw(14) << jc.instance_type << std::setw(11) << jc.phase
                          << std::setw(10) << job::format_duration(jc.ran) << std::setw(10)
                          << (jc.known ? job::format_usd(jc.usd) : std::string("unknown")) << jc.basis << "\n";
              }
            }
            if (!by->empty()) {
              for (const auto& [key, usd] : groups) {
                if (g.json)
                  out.push_back({{*by, key}, {"usd", usd}});
                else
                  std::cout << std::left << std::setw(48) << key << job::format_usd(usd) << "\n";
              }
            }
            if (g.json) {
              std::cout << out.dump(2) << "\n";
            } else {
              std::cout << "total: " << job::format_usd(total)
                        << " (billed seconds x the price each job recorded, spot from its price history, plus disk; "
                           "excludes S3 storage and transfer)\n";
            }
            return 0;
          }};
}

}  // namespace hoist::cli
