// `hoist run`: the options, then job::run.
#include "job/run.hpp"

#include <atomic>
#include <csignal>
#include <iostream>

#include "cli/commands.hpp"
#include "cli/reporters.hpp"

namespace hoist::cli {
namespace {

std::atomic<int> g_interrupts{0};
void on_sigint(int /*signal*/) {
  g_interrupts.fetch_add(1);
}

int run_command(const job::RunOptions& options, const Globals& g) {
  TerminalReporter terminal;
  JsonReporter lines(std::cout);
  job::Reporter& reporter = g.json ? static_cast<job::Reporter&>(lines) : terminal;
  job::RunRequest request;
  request.options = options;
  request.aws = g.aws;
  // Ctrl-C while following lets go of the job (it goes on in AWS); before,
  // it stops hoist as usual.
  request.following = [] { std::signal(SIGINT, on_sigint); };
  request.detach_requested = [] { return g_interrupts.load() > 0; };
  const auto outcome = job::run(request, reporter);
  std::signal(SIGINT, SIG_DFL);
  // --detach: the job id, for a script to follow it by.
  if (outcome.detached && options.detach && !g.json) std::cout << outcome.job_id << "\n";
  return outcome.exit_status;
}

}  // namespace

Command register_run(CLI::App& parent, Globals& g) {
  auto* app = parent.add_subcommand("run", "Run a project's script on an EC2 instance and bring back its outputs");
  auto o = std::make_shared<job::RunOptions>();
  auto max_runtime = std::make_shared<std::string>();
  auto checkpoint_every = std::make_shared<std::string>();
  app->add_option("project", o->project_dir, "Folder with the script, its modules and requirements.txt")->required();
  app->add_option("-i,--input", o->input, "Input folder or file, or s3://BUCKET/PREFIX")->required();
  app->add_option("-o,--output", o->output, "Output folder, or s3://BUCKET/PREFIX")->required();
  app->add_option("--script", o->script, "Entry script in the project (default main.py)");
  app->add_option("--instance-type", o->instance_type, "EC2 instance type (default t3.medium)");
  app->add_option("--cpus", o->cpus, "At least this many vCPUs (picks the cheapest type that fits)");
  app->add_option("--memory", o->memory_gib, "At least this many GiB of memory");
  app->add_option("--gpus", o->gpus, "At least this many GPUs");
  app->add_option("--gpu-type", o->gpu_type, "GPU model: T4, A10G, L4, L40S, V100, A100, H100");
  app->add_option("--arch", o->arch, "CPU architecture for --cpus/--memory/--gpus: x86_64 or arm64 (default: either)");
  app->add_flag("--spot", o->spot, "Use a spot instance (cheaper, may be interrupted)");
  app->add_option("--spot-retries", o->spot_retries,
                  "Relaunch an interrupted spot job up to N times (same job, next attempt; the interrupted instance "
                  "launches the next, so it works with --detach)");
  app->add_flag("--spot-fallback", o->spot_fallback,
                "Launch on demand when spot has no room, or when the spot retries are used up");
  app->add_option("--checkpoint", o->checkpoint,
                  "Local folder the script saves its progress in ($HOIST_CHECKPOINT, /checkpoint in the container): "
                  "sent with the job, saved to S3 every few minutes and at a spot notice, restored for the next "
                  "attempt, and brought back here at the end");
  app->add_option(
         "--notify", o->notify,
         "Tell this e-mail address (SNS, confirmed once) or https:// webhook (JSON with a Slack-style \"text\") "
         "when the job ends; sent by the instance, so with --detach too (repeatable)")
      ->allow_extra_args(false);  // one target each time: the script's `--` arguments stay its own
  app->add_flag("--keep-instance", o->keep_instance,
                "Keep the instance up after the script until its deadline (--max-runtime), to look at it with SSM "
                "Session Manager; hoist cancel ends it");
  app->add_option("--checkpoint-every", *checkpoint_every, "How often the checkpoint is saved (default 5m): 30s, 2m");
  app->add_option("--budget", o->budget_usd,
                  "At most this many USD: the instance ends itself before the job costs more (its deadline from the "
                  "on-demand price)");
  app->add_option(
      "--disk", o->disk_gib,
      "Root disk size in GiB (default 30, or more to hold the image and the inputs; never less than the image)");
  app->add_option("--max-runtime", *max_runtime, "The instance ends itself after this long (default 4h): 90s, 45m, 4h");
  app->add_option("--python", o->python, "Python version of the image (default 3.11)");
  app->add_option("--image", o->image,
                  "AMI to boot instead of the ECS-optimized Amazon Linux 2023 (or the Deep Learning AMI for GPUs); it "
                  "must ship what "
                  "they do: bash, curl, python3, the aws CLI, dnf or docker (and NVIDIA drivers for GPUs)");
  app->add_flag("--detach", o->detach, "Return once the job is launched");
  app->add_flag("--dry-run", o->dry_run, "Print the plan and its price; create nothing");
  app->add_flag("--rehash", o->rehash,
                "Hash every file again, not trusting what the last run found for files whose size, times and inode "
                "have not changed");
  app->add_flag("-y,--yes", o->yes, "Do not ask for confirmation");
  app->add_flag("--json", g.json,
                "Report as JSON lines on stdout (one event each; the script's output as \"log\" events)");
  app->add_option("args", o->args, "Extra arguments for the script (after --)");
  add_aws_options(*app, g);
  return {app, [o, max_runtime, checkpoint_every, &g] {
            if (!max_runtime->empty()) o->max_runtime = job::parse_duration(*max_runtime, "--max-runtime");
            if (!checkpoint_every->empty())
              o->checkpoint_every = job::parse_duration(*checkpoint_every, "--checkpoint-every");
            return run_command(*o, g);
          }};
}

}  // namespace hoist::cli
