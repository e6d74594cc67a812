// `hoist cost [JOB]`: what jobs cost.
#include <iomanip>
#include <iostream>

#include "aws/ec2.hpp"
#include "aws/http.hpp"
#include "aws/s3.hpp"
#include "cli/commands.hpp"
#include "job/connect.hpp"
#include "job/instances.hpp"
#include "job/naming.hpp"
#include "job/planner.hpp"
#include "job/spec.hpp"
#include "util/error.hpp"

namespace hoist::cli {
namespace {

// The instance's billed time: from launch (or the job's creation) to the
// terminal status (or now, while it runs).
struct JobCost {
  std::string id, phase, instance_type;
  std::chrono::seconds ran{0};
  double usd = 0;
  bool known = false;
};

// `launch_time`: the job's instance's, "" when EC2 no longer shows it.
JobCost cost_of(aws::S3& s3, const std::string& bucket, const std::string& id, const std::string& launch_time) {
  JobCost c;
  c.id = id;
  auto spec = job::read_job(s3, bucket, id);
  if (!spec) throw Fatal(Exit::not_found, "no job " + id + " in " + bucket + ": see `hoist ls`");
  auto st = job::read_status(s3, bucket, id);
  c.phase = st ? st->phase : "?";
  c.instance_type = spec->instance_type;
  std::string from = launch_time.empty() ? spec->created_at : launch_time;
  std::string to = st && st->terminal() ? st->updated_at : job::iso8601(std::chrono::system_clock::now());
  c.ran = job::seconds_between(from, to).value_or(std::chrono::seconds(0));
  if (c.ran.count() < 0) c.ran = std::chrono::seconds(0);
  c.known = spec->price_known;
  // Nothing is billed before the instance exists.
  c.usd = launch_time.empty() ? 0.0 : job::billed_usd(spec->usd_per_hour, c.ran);
  return c;
}

}  // namespace

Command register_cost(CLI::App& parent, Globals& g) {
  auto* app = parent.add_subcommand("cost", "What a job cost (instance time x price), or all jobs and their total");
  auto id = std::make_shared<std::string>();
  app->add_option("job", *id, "Job id (default: every job)");
  app->add_flag("--json", g.json, "Print JSON");
  add_aws_options(*app, g);
  return {app, [id, &g] {
            if (!id->empty()) check_job_id(*id);
            job::Connected c = job::connect(g.aws);
            aws::S3 s3(c.session);
            std::vector<std::string> ids = id->empty() ? job::list_job_ids(s3, c.bucket) : std::vector{*id};
            // One DescribeInstances for every job, and the jobs' job.json and
            // status.json read in parallel: not three round trips per job in turn.
            std::map<std::string, aws::Instance> instances;
            if (!ids.empty()) instances = job::job_instances(c.session);
            // Every job first: an unknown one fails before anything is printed.
            std::vector<JobCost> costs(ids.size());
            aws::parallel_for(ids.size(), 8, [&](std::size_t i) {
              auto inst = instances.find(ids[i]);
              costs[i] = cost_of(s3, c.bucket, ids[i], inst == instances.end() ? "" : inst->second.launch_time);
            });
            double total = 0;
            nlohmann::json out = nlohmann::json::array();
            if (!g.json)
              std::cout << std::left << std::setw(48) << "JOB" << std::setw(14) << "TYPE" << std::setw(11) << "PHASE"
                        << std::setw(10) << "TIME"
                        << "COST\n";
            for (const auto& jc : costs) {
              total += jc.usd;
              if (g.json) {
                out.push_back({{"job_id", jc.id},
                               {"instance_type", jc.instance_type},
                               {"phase", jc.phase},
                               {"seconds", jc.ran.count()},
                               {"billed_seconds", job::billed_seconds(jc.ran).count()},
                               {"usd", jc.usd},
                               {"price_known", jc.known}});
              } else {
                std::cout << std::setw(48) << jc.id << std::setw(14) << jc.instance_type << std::setw(11) << jc.phase
                          << std::setw(10) << job::format_duration(jc.ran)
                          << (jc.known ? job::format_usd(jc.usd) : std::string("unknown")) << "\n";
              }
            }
            if (g.json) {
              std::cout << out.dump(2) << "\n";
            } else {
              std::cout << "total: " << job::format_usd(total)
                        << " (instance time x us-east-1 list price, plus disk; excludes S3 storage and transfer)\n";
            }
            return 0;
          }};
}

}  // namespace hoist::cli
