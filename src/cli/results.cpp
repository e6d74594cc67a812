// `hoist results JOB [-o DIR]`: download a job's outputs.
#include "aws/s3.hpp"
#include "cli/commands.hpp"
#include "cli/context.hpp"
#include "job/naming.hpp"
#include "job/watcher.hpp"
#include "util/error.hpp"
#include "util/log.hpp"

namespace hoist::cli {

Command register_results(CLI::App& parent, Globals& g) {
  auto* app = parent.add_subcommand("results", "Download a job's outputs");
  auto id = std::make_shared<std::string>();
  auto out = std::make_shared<std::string>();
  app->add_option("job", *id, "Job id")->required();
  app->add_option("-o,--output", *out, "Folder to download into (default ./<job id>)");
  add_aws_options(*app, g);
  return {app, [id, out, &g] {
            check_job_id(*id);
            Connected c = connect(g.aws);
            aws::S3 s3(c.session);
            auto spec = job::read_job(s3, c.bucket, *id);
            if (!spec) throw Fatal(Exit::not_found, "no job " + *id + " in " + c.bucket + ": see `hoist ls`");
            std::string dir = out->empty() ? *id : *out;
            auto d = job::download_prefix(s3, spec->output_s3, dir);
            log::info("hoist: " + std::to_string(d.files) + " files (" + human_bytes(static_cast<double>(d.bytes)) +
                      ") in " + dir);
            auto uri = aws::S3Uri::parse(spec->output_s3);
            log::info("hoist: S3 console: " + job::console_url(uri.bucket, c.account.region, uri.key));
            return 0;
          }};
}

}  // namespace hoist::cli
