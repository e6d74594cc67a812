// `hoist logs JOB [-f]`: the script's output, from any machine.
#include <iostream>

#include "aws/s3.hpp"
#include "cli/commands.hpp"
#include "cli/context.hpp"
#include "job/watcher.hpp"
#include "util/error.hpp"

namespace hoist::cli {

Command register_logs(CLI::App& parent, Globals& g) {
  auto* app = parent.add_subcommand("logs", "Print a job's output (stdout and stderr of the script)");
  auto id = std::make_shared<std::string>();
  auto follow = std::make_shared<bool>(false);
  auto bootstrap = std::make_shared<bool>(false);
  app->add_option("job", *id, "Job id")->required();
  app->add_flag("-f,--follow", *follow, "Keep printing until the job ends");
  app->add_flag("--bootstrap", *bootstrap, "Print the instance's bootstrap log instead");
  add_aws_options(*app, g);
  return {app, [id, follow, bootstrap, &g] {
            check_job_id(*id);
            Connected c = connect(g.aws);
            aws::S3 s3(c.session);
            auto spec = job::read_job(s3, c.bucket, *id);
            if (!spec) throw Fatal(Exit::not_found, "no job " + *id + " in " + c.bucket + ": see `hoist ls`");
            if (*bootstrap) {
              auto body = s3.get_object_if_exists(c.bucket, "jobs/" + *id + "/logs/bootstrap.log");
              if (!body) throw Fatal(Exit::not_found, "job " + *id + " has no bootstrap log yet");
              std::cout << *body;
              return 0;
            }
            auto print = [](const std::string& chunk) { std::cout << chunk << std::flush; };
            if (!*follow) {
              job::LogFollower(s3, c.bucket, *id).poll(print);
              return 0;
            }
            // The same follower as `hoist run`'s: it waits out a lost network.
            job::WatchEvents events;
            events.on_log = print;
            const auto limit = spec->max_runtime.count() > 0 ? spec->max_runtime : std::chrono::hours(24);
            job::watch(c.session, c.bucket, *id, "", limit, events);
            return 0;
          }};
}

}  // namespace hoist::cli
