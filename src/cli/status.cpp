// `hoist status [JOB]` and `hoist ls`: jobs as S3 holds them, from any machine.
#include <iomanip>
#include <iostream>
#include <set>

#include "aws/ec2.hpp"
#include "aws/error.hpp"
#include "aws/s3.hpp"
#include "cli/commands.hpp"
#include "job/connect.hpp"
#include "job/cost.hpp"
#include "job/instances.hpp"
#include "job/naming.hpp"
#include "job/spec.hpp"
#include "util/error.hpp"

namespace hoist::cli {
namespace {

void require_job_id(const std::string& id) {
  if (!job::valid_job_id(id))
    throw Fatal(Exit::bad_option, "'" + id + "' is not a job id (like wordcount-20261124-031500-ab12): see `hoist ls`");
}

// A relaunched spot job's attempts, a line each ("" for one attempt).
std::string attempts_text(const job::JobStatus& st) {
  if (st.attempts.size() < 2 && st.attempt < 2) return "";
  auto shown = [](const std::string& v) { return v.empty() ? std::string("-") : v; };
  std::string out = "attempts:\n";
  for (const auto& a : st.attempts)
    out += "  " + std::to_string(a.attempt) + "  " + shown(a.instance_id) + "  " + (a.spot ? "spot" : "on demand") +
           "  " + shown(a.zone) + "  " + shown(a.ended) + " at " + shown(a.ended_at) + "\n";
  if (st.attempt_going_on())
    out += "  " + std::to_string(st.attempt) + "  " + shown(st.instance_id) + "  " + st.phase + " (now)\n";
  return out;
}

int show_status(const std::string& id, Globals& g) {
  job::Connected c = job::connect(g.aws);
  aws::S3 s3(c.session);
  std::string job_id = id;
  if (job_id.empty()) {
    auto ids = job::list_job_ids(s3, c.bucket);
    if (ids.empty()) throw Fatal(Exit::not_found, "no jobs yet in " + c.bucket + ": start one with `hoist run`");
    job_id = ids.front();
  }
  require_job_id(job_id);
  auto spec = job::read_job(s3, c.bucket, job_id);
  auto st = job::read_status(s3, c.bucket, job_id);
  if (!spec || !st) throw Fatal(Exit::not_found, "no job " + job_id + " in " + c.bucket + ": see `hoist ls`");
  // The instance of the attempt the record is at (a relaunched job has several).
  auto found = job::job_instance(c.session, job_id);
  if (found && !st->instance_id.empty() && found->id != st->instance_id) {
    try {
      if (auto current = aws::Ec2(c.session).describe_instance(st->instance_id)) found = current;
    } catch (const aws::AwsError& e) {
      if (!e.not_found()) throw;
    }
  }
  const std::string state = found ? found->state : "";
  const std::optional<std::string> instance = found ? std::optional(found->id) : std::nullopt;
  if (g.json) {
    nlohmann::json j = st->raw;
    j["instance_state"] = state;
    j["instance_type"] = spec->instance_type;
    j["output_s3"] = spec->output_s3;
    std::cout << j.dump(2) << "\n";
    return 0;
  }
  std::cout << "job:       " << job_id << "\n"
            << "phase:     " << st->phase << "\n";
  if (st->exit_code) std::cout << "exit code: " << *st->exit_code << "\n";
  if (!st->error.empty()) std::cout << "error:     " << st->error << "\n";
  std::cout << "instance:  " << (instance ? *instance + " (" + spec->instance_type + ", " + state + ")" : "none")
            << "\n"
            << attempts_text(*st) << "created:   " << spec->created_at << "\n"
            << "updated:   " << st->updated_at << "\n"
            << "outputs:   " << spec->output_s3 << "\n"
            << "logs:      hoist logs " << job_id << "\n";
  return 0;
}

int list_jobs(Globals& g) {
  job::Connected c = job::connect(g.aws);
  aws::S3 s3(c.session);
  auto ids = job::list_job_ids(s3, c.bucket);
  nlohmann::json out = nlohmann::json::array();
  if (!g.json)
    std::cout << std::left << std::setw(48) << "JOB" << std::setw(12) << "PHASE" << std::setw(22) << "UPDATED"
              << "COST\n";
  // A job folder without its job.json is listed, without a cost.
  const auto costs = job::job_costs(c, ids, true);
  for (std::size_t i = 0; i < ids.size(); ++i) {
    const std::string& id = ids[i];
    const auto& jc = costs[i];
    const std::string phase = jc ? jc->phase : "?";
    const std::string updated = jc ? jc->updated_at : "";
    const std::string cost = jc && jc->known ? job::format_usd(jc->usd) : "unknown";
    if (g.json) {
      out.push_back({{"job_id", id},
                     {"phase", phase},
                     {"updated_at", updated},
                     {"usd", jc && jc->known ? nlohmann::json(jc->usd) : nlohmann::json(nullptr)}});
    } else {
      std::cout << std::setw(48) << id << std::setw(12) << phase << std::setw(22) << updated << cost << "\n";
    }
  }
  if (g.json) std::cout << out.dump(2) << "\n";
  return 0;
}

}  // namespace

Command register_status(CLI::App& parent, Globals& g) {
  auto* app = parent.add_subcommand("status", "Show a job's phase, exit code and instance (default: the newest job)");
  auto id = std::make_shared<std::string>();
  app->add_option("job", *id, "Job id");
  app->add_flag("--json", g.json, "Print JSON");
  add_aws_options(*app, g);
  return {app, [id, &g] { return show_status(*id, g); }};
}

Command register_ls(CLI::App& parent, Globals& g) {
  auto* app = parent.add_subcommand("ls", "List jobs, newest first");
  app->add_flag("--json", g.json, "Print JSON");
  add_aws_options(*app, g);
  return {app, [&g] { return list_jobs(g); }};
}

void check_job_id(const std::string& id) {
  require_job_id(id);
}

}  // namespace hoist::cli
