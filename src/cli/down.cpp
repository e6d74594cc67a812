// `hoist gc` ends what jobs left behind; `hoist down` also removes what hoist
// keeps between jobs (job::gc, job::down).
#include "cli/commands.hpp"
#include "cli/reporters.hpp"
#include "job/teardown.hpp"
#include "util/error.hpp"

namespace hoist::cli {

Command register_gc(CLI::App& parent, Globals& g) {
  auto* app = parent.add_subcommand("gc", "End instances and permissions that finished jobs left behind");
  auto dry_run = std::make_shared<bool>(false);
  app->add_flag("--dry-run", *dry_run, "Only say what would be removed");
  add_aws_options(*app, g);
  return {app, [dry_run, &g] {
            TerminalReporter reporter;
            if (job::gc(job::connect(g.aws), *dry_run, reporter) == 0) reporter.note("nothing to clean up");
            return 0;
          }};
}

Command register_down(CLI::App& parent, Globals& g) {
  auto* app = parent.add_subcommand(
      "down", "Remove the ECR repositories and job roles; with --all also the bucket and every job in it");
  auto options = std::make_shared<job::DownOptions>();
  app->add_flag("--all", options->all, "Also empty and delete the bucket (all job records, logs and outputs)");
  app->add_flag("-y,--yes", options->yes, "Do not ask for confirmation");
  add_aws_options(*app, g);
  return {app, [options, &g] {
            TerminalReporter reporter;
            return job::down(job::connect(g.aws), *options, reporter) ? 0 : static_cast<int>(Exit::cancelled);
          }};
}

}  // namespace hoist::cli
