// `hoist logs JOB [-f]`: the script's output, from any machine (job::logs).
#include "cli/commands.hpp"
#include "cli/reporters.hpp"
#include "job/outputs.hpp"

namespace hoist::cli {

Command register_logs(CLI::App& parent, Globals& g) {
  auto* app = parent.add_subcommand("logs", "Print a job's output (stdout and stderr of the script)");
  auto id = std::make_shared<std::string>();
  auto options = std::make_shared<job::LogsOptions>();
  app->add_option("job", *id, "Job id")->required();
  app->add_flag("-f,--follow", options->follow, "Keep printing until the job ends");
  app->add_flag("--bootstrap", options->bootstrap, "Print the instance's bootstrap log instead");
  add_aws_options(*app, g);
  return {app, [id, options, &g] {
            check_job_id(*id);
            // Only the log: no phases.
            TerminalReporter reporter({.phases = false});
            job::logs(job::connect(g.aws), *id, *options, reporter);
            return 0;
          }};
}

}  // namespace hoist::cli
