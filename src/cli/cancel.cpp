// `hoist cancel JOB`: ask the instance to stop, then make sure it does
// (job::cancel).
#include "cli/commands.hpp"
#include "cli/reporters.hpp"
#include "job/teardown.hpp"

namespace hoist::cli {

Command register_cancel(CLI::App& parent, Globals& g) {
  auto* app = parent.add_subcommand("cancel", "Stop a job: outputs so far are kept, its instance is terminated");
  auto id = std::make_shared<std::string>();
  auto grace = std::make_shared<int>(60);
  app->add_option("job", *id, "Job id")->required();
  app->add_option("--grace", *grace, "Seconds to let the instance upload partial outputs (default 60)");
  add_aws_options(*app, g);
  return {app, [id, grace, &g] {
            check_job_id(*id);
            TerminalReporter reporter;
            job::cancel(job::connect(g.aws), *id, std::chrono::seconds(*grace), reporter);
            return 0;
          }};
}

}  // namespace hoist::cli
