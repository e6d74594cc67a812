// hoist: run a local Python project on AWS with one command.
#include <CLI/CLI.hpp>
#include <iostream>
#include <vector>

#include "cli/commands.hpp"
#include "cli/errors.hpp"
#include "util/error.hpp"
#include "util/harden.hpp"
#include "util/log.hpp"

namespace {
// One line, as for every other bad input, and the documented exit status 2
// (CLI11's own codes are 100 and up), pointing at the --help of the deepest
// command the line reached ("hoist s3 cp --help").
int usage_error(CLI::App& app, const CLI::ParseError& e) {
  CLI::App* at = &app;
  std::string where = "hoist";
  for (auto subs = at->get_subcommands(); !subs.empty(); subs = at->get_subcommands()) {
    at = subs.front();
    where += " " + at->get_name();
  }
  std::string message = e.what();
  // What CLI11 could not place, in the order it was typed (its own message
  // lists extras last first; at the top it only says a command is missing).
  std::string extras;
  for (const auto& arg : at->remaining()) extras += (extras.empty() ? "" : " ") + arg;
  if (!extras.empty() && at == &app)
    message = "unknown command or option: " + extras;
  else if (!extras.empty() && dynamic_cast<const CLI::ExtrasError*>(&e) != nullptr)
    message = "unexpected argument(s): " + extras;
  std::cerr << "hoist: error: " << hoist::log::redact(message) << ": see " << where << " --help\n";
  return static_cast<int>(hoist::Exit::usage);
}
}  // namespace

int main(int argc, char** argv) {
  using namespace hoist;
  // Before anything reads a credential: a crash must not write them to disk.
  disable_core_dumps();
  CLI::App app{"hoist: run a local Python project on AWS with one command, and leave nothing costly behind."};
  app.set_version_flag("--version", std::string("hoist ") + HOIST_VERSION);
  app.require_subcommand(1);
  cli::Globals globals;
  app.add_flag("-v,--verbose", globals.verbose, "Say more about what hoist does");
  app.add_flag("-q,--quiet", globals.quiet, "Only errors");

  std::vector<cli::Command> commands = {
      cli::register_run(app, globals),        cli::register_status(app, globals), cli::register_ls(app, globals),
      cli::register_logs(app, globals),       cli::register_cancel(app, globals), cli::register_results(app, globals),
      cli::register_iam_policy(app, globals), cli::register_cost(app, globals),   cli::register_instances(app, globals),
      cli::register_gc(app, globals),         cli::register_down(app, globals),   cli::register_check(app, globals),
      cli::register_presign(app, globals),    cli::register_s3(app, globals),     cli::register_setup(app, globals),
      cli::register_types(app, globals),
  };

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
    return usage_error(app, e);
  }
  log::set_level(globals.quiet ? log::Level::quiet : globals.verbose ? log::Level::verbose : log::Level::info);
  if (const char* d = std::getenv("HOIST_DEBUG"); d && *d) log::set_level(log::Level::debug);

  try {
    for (auto& c : commands) {
      if (c.app->parsed()) return c.action();
    }
  } catch (const std::exception& e) {
    const cli::ErrorReport report = cli::report_error(e);
    std::cerr << report.line << '\n';
    return report.exit_code;
  }
  return 0;
}
