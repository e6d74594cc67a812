// `hoist results JOB [-o DIR]`: download a job's outputs (job::results).
#include "cli/commands.hpp"
#include "cli/reporters.hpp"
#include "job/outputs.hpp"

namespace hoist::cli {

Command register_results(CLI::App& parent, Globals& g) {
  auto* app = parent.add_subcommand("results", "Download a job's outputs");
  auto id = std::make_shared<std::string>();
  auto out = std::make_shared<std::string>();
  app->add_option("job", *id, "Job id")->required();
  app->add_option("-o,--output", *out, "Folder to download into (default ./<job id>)");
  add_aws_options(*app, g);
  return {app, [id, out, &g] {
            check_job_id(*id);
            TerminalReporter reporter;
            job::results(job::connect(g.aws), *id, *out, reporter);
            return 0;
          }};
}

}  // namespace hoist::cli
