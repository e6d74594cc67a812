// `hoist gc` ends what jobs left behind; `hoist down` also removes what hoist
// keeps between jobs (job::gc, job::down).
#include <filesystem>

#include "cli/commands.hpp"
#include "cli/reporters.hpp"
#include "job/naming.hpp"
#include "job/project.hpp"
#include "job/teardown.hpp"
#include "util/error.hpp"

namespace hoist::cli {

Command register_gc(CLI::App& parent, Globals& g) {
  auto* app = parent.add_subcommand("gc", "End instances and permissions that finished jobs left behind");
  auto dry_run = std::make_shared<bool>(false);
  auto blobs = std::make_shared<bool>(false);
  auto grace = std::make_shared<std::string>("24h");
  app->add_flag("--dry-run", *dry_run, "Only say what would be removed");
  app->add_flag("--blobs", *blobs,
                "Also delete the uploaded files (blobs/sha256/) that no job in the bucket references, "
                "except those written in the last --blob-grace");
  app->add_option("--blob-grace", *grace,
                  "With --blobs: keep blobs written this recently, referenced or not (default 24h; a run staging "
                  "now has sent blobs its job does not name yet)");
  add_aws_options(*app, g);
  return {app, [dry_run, blobs, grace, &g] {
            TerminalReporter reporter;
            const auto blob_grace = job::parse_duration(*grace, "--blob-grace");
            const auto c = job::connect(g.aws);
            int ended = job::gc(c, *dry_run, reporter);
            if (*blobs) ended += job::gc_blobs(c, *dry_run, blob_grace, reporter);
            if (ended == 0) reporter.note("nothing to clean up");
            return 0;
          }};
}

Command register_down(CLI::App& parent, Globals& g) {
  auto* app = parent.add_subcommand(
      "down", "Remove the ECR repositories and job roles; with --all also the bucket and every job in it");
  auto options = std::make_shared<job::DownOptions>();
  auto project = std::make_shared<std::string>(".");
  auto only = std::make_shared<std::vector<std::string>>();
  auto keep = std::make_shared<std::vector<std::string>>();
  app->add_flag("--all", options->all,
                "Also empty and delete the bucket (all job records, logs and outputs), and what [keep] keeps");
  app->add_option("--only", *only,
                  "Remove only these, whatever hoist.toml's [keep] says: instances, repository, images, role, "
                  "topic, bucket (comma-separated)")
      ->delimiter(',');
  app->add_option("--keep", *keep, "Keep these this time (the same names as --only)")->delimiter(',');
  app->add_flag("--dry-run", options->dry_run, "Only say what would go, and what stays with its monthly storage cost");
  app->add_option("--project", *project,
                  "The project folder whose hoist.toml [keep] applies (default: the current folder)");
  app->add_flag("-y,--yes", options->yes, "Do not ask for confirmation");
  add_aws_options(*app, g);
  return {app, [options, project, only, keep, &g] {
            TerminalReporter reporter;
            options->only.insert(only->begin(), only->end());
            options->keep.insert(keep->begin(), keep->end());
            // Every bad setting or name is refused before AWS is asked anything.
            job::check_down_options(*options);
            options->settings = job::read_keep_settings(*project);
            std::error_code ec;
            if (std::filesystem::exists(std::filesystem::path(*project) / "hoist.toml", ec)) {
              job::RunOptions run;
              run.project_dir = *project;
              options->project_repository = job::repository_name(job::project_name(run));
            }
            return job::down(job::connect(g.aws), *options, reporter) ? 0 : static_cast<int>(Exit::cancelled);
          }};
}

}  // namespace hoist::cli
