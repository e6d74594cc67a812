// `hoist cancel JOB`: ask the instance to stop, then make sure it does.
#include <iostream>
#include <thread>

#include "aws/s3.hpp"
#include "cli/commands.hpp"
#include "cli/context.hpp"
#include "job/watcher.hpp"
#include "util/error.hpp"
#include "util/log.hpp"

namespace hoist::cli {

Command register_cancel(CLI::App& parent, Globals& g) {
  auto* app = parent.add_subcommand("cancel", "Stop a job: outputs so far are kept, its instance is terminated");
  auto id = std::make_shared<std::string>();
  auto grace = std::make_shared<int>(60);
  app->add_option("job", *id, "Job id")->required();
  app->add_option("--grace", *grace, "Seconds to let the instance upload partial outputs (default 60)");
  add_aws_options(*app, g);
  return {
      app, [id, grace, &g] {
        check_job_id(*id);
        Connected c = connect(g.aws);
        aws::S3 s3(c.session);
        auto st = job::read_status(s3, c.bucket, *id);
        if (!st) throw Fatal(Exit::not_found, "no job " + *id + " in " + c.bucket + ": see `hoist ls`");
        if (st->terminal()) {
          log::info("hoist: job " + *id + " already ended: " + st->phase);
          job::release_job_resources(c.session, *id, st->instance_id);
          return 0;
        }
        s3.put_object(c.bucket, "jobs/" + *id + "/cancel", "cancel requested\n", "text/plain");
        log::info("hoist: asked " + *id + " to stop; waiting up to " + std::to_string(*grace) + "s for its outputs");
        auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(*grace);
        while (std::chrono::steady_clock::now() < deadline) {
          st = job::read_status(s3, c.bucket, *id);
          if (st && st->terminal()) break;
          std::this_thread::sleep_for(std::chrono::seconds(1));
        }
        job::release_job_resources(c.session, *id, st ? st->instance_id : "");
        log::info("hoist: job " + *id + " " + (st && st->terminal() ? st->phase : "terminated") +
                  "; its instance is terminated");
        return 0;
      }};
}

}  // namespace hoist::cli
