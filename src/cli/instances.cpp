// `hoist instances`: the instances hoist started, by their tags.
#include "job/instances.hpp"

#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "job/naming.hpp"

namespace hoist::cli {

Command register_instances(CLI::App& parent, Globals& g) {
  auto* app = parent.add_subcommand("instances", "List the instances hoist started (tag hoist:managed=true)");
  auto all = std::make_shared<bool>(false);
  auto job_filter = std::make_shared<std::string>();
  app->add_flag("--all", *all, "Include terminated instances");
  app->add_option("--job", *job_filter, "Only this job's instance");
  app->add_flag("--json", g.json, "Print JSON");
  add_aws_options(*app, g);
  return {app, [all, job_filter, &g] {
            const auto found = job::managed_instances(
                aws::Session::create(g.aws), *all ? job::InstanceStates::any : job::InstanceStates::not_terminated,
                *job_filter);
            nlohmann::json out = nlohmann::json::array();
            if (!g.json)
              std::cout << std::left << std::setw(22) << "INSTANCE" << std::setw(14) << "TYPE" << std::setw(15)
                        << "STATE" << std::setw(8) << "SPOT" << std::setw(22) << "LAUNCHED"
                        << "JOB\n";
            for (const auto& i : found) {
              std::string jobid = i.tags.contains(job::kJobTag) ? i.tags.at(job::kJobTag) : "";
              if (g.json) {
                out.push_back({{"instance_id", i.id},
                               {"instance_type", i.instance_type},
                               {"state", i.state},
                               {"spot", i.lifecycle == "spot"},
                               {"launch_time", i.launch_time},
                               {"job_id", jobid}});
              } else {
                std::cout << std::setw(22) << i.id << std::setw(14) << i.instance_type << std::setw(15) << i.state
                          << std::setw(8) << (i.lifecycle == "spot" ? "yes" : "no") << std::setw(22)
                          << i.launch_time.substr(0, 19) << jobid << "\n";
              }
            }
            if (g.json) std::cout << out.dump(2) << "\n";
            return 0;
          }};
}

}  // namespace hoist::cli
