// `hoist results JOB [-o DIR] [--checkpoint DIR]`: download a job's outputs
// (job::results), and its last checkpoint.
#include "cli/commands.hpp"
#include "cli/reporters.hpp"
#include "job/outputs.hpp"

namespace hoist::cli {

Command register_results(CLI::App& parent, Globals& g) {
  auto* app = parent.add_subcommand("results", "Download a job's outputs");
  auto id = std::make_shared<std::string>();
  auto out = std::make_shared<std::string>();
  auto checkpoint = std::make_shared<std::string>();
  app->add_option("job", *id, "Job id")->required();
  app->add_option("-o,--output", *out, "Folder to download into (default ./<job id>)");
  app->add_option("--checkpoint", *checkpoint, "Also download the job's last saved checkpoint into this folder");
  add_aws_options(*app, g);
  return {app, [id, out, checkpoint, &g] {
            check_job_id(*id);
            TerminalReporter reporter;
            const auto c = job::connect(g.aws);
            job::results(c, *id, *out, reporter);
            if (checkpoint->empty()) return 0;
            job::checkpoint_results(c, *id, *checkpoint, reporter);
            return 0;
          }};
}

}  // namespace hoist::cli
