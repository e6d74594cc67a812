#pragma once
// Each subcommand lives in its own file and registers itself on the app.
#include <CLI/CLI.hpp>
#include <functional>
#include <memory>
#include <string>

#include "aws/config.hpp"

namespace hoist::cli {

// Options every subcommand accepts.
struct Globals {
  aws::Overrides aws;
  bool verbose = false;
  bool quiet = false;
  bool json = false;
};

// A registered subcommand's action, run after parsing; returns the exit status.
using Action = std::function<int()>;

struct Command {
  CLI::App* app;
  Action action;
};

// Adds --profile, --region, --endpoint-url, --bucket to a subcommand.
void add_aws_options(CLI::App& app, Globals& globals);

Command register_check(CLI::App& parent, Globals& globals);
Command register_presign(CLI::App& parent, Globals& globals);
Command register_run(CLI::App& parent, Globals& globals);
Command register_status(CLI::App& parent, Globals& globals);
Command register_ls(CLI::App& parent, Globals& globals);
Command register_logs(CLI::App& parent, Globals& globals);
Command register_cancel(CLI::App& parent, Globals& globals);
Command register_results(CLI::App& parent, Globals& globals);
Command register_iam_policy(CLI::App& parent, Globals& globals);
Command register_setup(CLI::App& parent, Globals& globals);
Command register_cost(CLI::App& parent, Globals& globals);
Command register_instances(CLI::App& parent, Globals& globals);
Command register_gc(CLI::App& parent, Globals& globals);
Command register_down(CLI::App& parent, Globals& globals);
Command register_types(CLI::App& parent, Globals& globals);

// Fatal(Exit::bad_option) unless `id` looks like a job id.
void check_job_id(const std::string& id);
// Hidden developer command: `hoist s3 cp SRC DST`.
Command register_s3(CLI::App& parent, Globals& globals);

}  // namespace hoist::cli
