// The order of a run, and what is said between its steps.
#include "job/run.hpp"

#include "job/reporter.hpp"
#include "util/error.hpp"

namespace hoist::job {

std::string describe_type(const InstancePlan& plan) {
  std::string s = plan.type.name;
  if (plan.type.vcpus) {
    s += " (" + std::to_string(plan.type.vcpus) + " vCPU, " + std::to_string(static_cast<int>(plan.type.memory_gib)) +
         " GiB";
    if (plan.type.gpus) s += ", " + std::to_string(plan.type.gpus) + "x " + plan.type.gpu_name;
    s += ")";
  }
  s += plan.spot ? ", spot" : ", on-demand";
  s += ", " + std::to_string(plan.disk_gib) + " GiB disk";
  return s;
}

namespace {

bool preempted(const WatchResult& r) {
  return r.instance_state_reason.find("Spot") != std::string::npos;
}

int terminal_status(const JobStatus& st) {
  const auto phase = parse_phase(st.phase);
  if (phase == Phase::succeeded) return 0;
  if (phase == Phase::timed_out) return static_cast<int>(Exit::timed_out);
  if (phase == Phase::cancelled) return static_cast<int>(Exit::cancelled);
  if (phase == Phase::preempted) return static_cast<int>(Exit::preempted);
  if (st.exit_code) return *st.exit_code;
  return static_cast<int>(Exit::launch_failed);
}

// The plan, as said before anything is created.
Event plan_event(const Job& job) {
  const InstancePlan& plan = job.plan;
  return {"plan",
          "plan: " + describe_type(plan),
          {{"instance_type", plan.type.name},
           {"spot", plan.spot},
           {"zone", plan.zone},
           {"disk_gib", plan.disk_gib},
           {"usd_per_hour", plan.usd_per_hour},
           {"price_known", plan.price_known},
           {"max_runtime_seconds", plan.max_runtime.count()},
           {"worst_case_usd", plan.worst_case_usd()}}};
}

// What is said when following ends, by how it ended.
Event ending(const Job& job, const WatchResult& r, std::chrono::seconds wall) {
  Event e{"ended", "", {{"job_id", job.id}, {"exit_status", exit_status_for(r)}}};
  switch (r.end) {
    case WatchEnd::lost:
      e.text = std::string("the instance ended without a final status") + (preempted(r) ? " (spot interruption)" : "") +
               "; its logs so far: `hoist logs " + job.id + "`";
      e.data["phase"] = preempted(r) ? "preempted" : "lost";
      break;
    case WatchEnd::overdue:
      e.text = "the job outlived --max-runtime; ending its instance";
      e.data["phase"] = "timed_out";
      break;
    default:
      e.text = r.status.phase;
      if (r.status.exit_code) e.text += " (exit " + std::to_string(*r.status.exit_code) + ")";
      if (!r.status.error.empty()) e.text += ": " + r.status.error;
      e.text += " after " + format_duration(wall);
      e.data["phase"] = r.status.phase;
      e.data["seconds"] = wall.count();
      break;
  }
  return e;
}

// After a failed launch; a failure to undo it is said, and the launch's
// own error is the one that leaves.
void abandon(RunSteps& steps, const Job& job, Reporter& reporter) {
  try {
    steps.abandon(job);
  } catch (const std::exception& e) {
    reporter.warn(std::string("could not take back what the failed launch made (") + e.what() +
                  "): `hoist gc` removes it");
  }
}

}  // namespace

int exit_status_for(const WatchResult& r) {
  switch (r.end) {
    case WatchEnd::lost:
      return static_cast<int>(preempted(r) ? Exit::preempted : Exit::job_lost);
    case WatchEnd::overdue:
      return static_cast<int>(Exit::timed_out);
    case WatchEnd::detached:
      return 130;
    case WatchEnd::terminal:
      break;
  }
  return terminal_status(r.status);
}

RunOutcome run(const RunRequest& request, RunSteps& steps, Reporter& reporter) {
  const RunOptions& o = request.options;
  Job job;
  job.options = o;
  RunOutcome outcome;

  // 1. The local side, then the account as it is: nothing is created until
  // every check has passed (a bad s3:// INPUT or OUTPUT leaves it as it was).
  steps.prepare(job);
  steps.survey(job);
  outcome.job_id = job.id;
  reporter.say(plan_event(job));
  for (const auto& line : job.plan.costs) reporter.note(line);
  reporter.say({"job",
                "job " + job.id + " in " + job.region + " (bucket " + job.bucket + ")",
                {{"job_id", job.id}, {"region", job.region}, {"bucket", job.bucket}}});
  if (o.dry_run) {
    steps.describe(job);
    reporter.note("dry run: nothing was created or launched");
    return outcome;
  }
  if (!o.yes && !reporter.confirm("launch it?", true)) {
    reporter.note("not launched");
    outcome.exit_status = static_cast<int>(Exit::cancelled);
    return outcome;
  }

  // 2. Create what is missing; send what the bucket lacks; the instance.
  steps.provision(job);
  Launched launched;
  try {
    launched = steps.launch(job);
  } catch (...) {
    abandon(steps, job, reporter);
    throw;
  }
  outcome.launched = true;
  reporter.say({"launched",
                "launched " + launched.instance_id + " (" + job.plan.type.name +
                    (launched.zone.empty() ? "" : " in " + launched.zone) + ")",
                {{"job_id", job.id}, {"instance_id", launched.instance_id}, {"zone", launched.zone}}});
  const std::string follow = "hoist logs " + job.id + " -f";
  // Said whenever hoist stops following a job that goes on without it.
  const std::string goes_on =
      "the job goes on in AWS (it ends itself within " + format_duration(job.options.max_runtime) + ")";
  const std::string commands =
      "follow: " + follow + "    status: hoist status " + job.id + "    stop: hoist cancel " + job.id;
  if (o.detach) {
    reporter.say({"detached",
                  "detached; follow with `" + follow + "`, stop with `hoist cancel " + job.id + "`",
                  {{"job_id", job.id}}});
    outcome.detached = true;
    return outcome;
  }

  // 3. Follow it until it ends; the user may let go (Ctrl-C).
  if (request.following) request.following();
  const auto t0 = std::chrono::steady_clock::now();
  WatchResult result;
  try {
    result = steps.follow(job, launched);
  } catch (...) {
    // Say where the job is before the error (expired credentials, say).
    reporter.note(goes_on);
    reporter.note(commands);
    throw;
  }
  if (result.end == WatchEnd::detached) {
    reporter.say({"interrupted", "detached: " + goes_on, {{"job_id", job.id}}});
    reporter.note(commands);
    outcome.detached = true;
    outcome.exit_status = exit_status_for(result);
    return outcome;
  }
  const auto wall = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - t0);

  // 4. Whatever happened: outputs home, the instance ended, the cost.
  reporter.say(ending(job, result, wall));
  outcome.exit_status = exit_status_for(result);
  steps.collect(job, launched);
  return outcome;
}

}  // namespace hoist::job
