// `hoist logs JOB [-f]`: the script's output, from any machine.
#include <csignal>
#include <iostream>
#include <thread>

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
            if (!job::read_job(s3, c.bucket, *id))
              throw Fatal(Exit::not_found, "no job " + *id + " in " + c.bucket + ": see `hoist ls`");
            if (*bootstrap) {
              auto body = s3.get_object_if_exists(c.bucket, "jobs/" + *id + "/logs/bootstrap.log");
              if (!body) throw Fatal(Exit::not_found, "job " + *id + " has no bootstrap log yet");
              std::cout << *body;
              return 0;
            }
            job::LogFollower logs(s3, c.bucket, *id);
            auto print = [](const std::string& chunk) { std::cout << chunk << std::flush; };
            logs.poll(print);
            while (*follow) {
              auto st = job::read_status(s3, c.bucket, *id);
              if (st && st->terminal()) {
                logs.poll(print);
                break;
              }
              std::this_thread::sleep_for(std::chrono::seconds(1));
              logs.poll(print);
            }
            return 0;
          }};
}

}  // namespace hoist::cli
