#include "cli/commands.hpp"

namespace hoist::cli {

void add_aws_options(CLI::App& app, Globals& g) {
  app.add_option("--profile", g.aws.profile, "AWS profile (as in ~/.aws/config)");
  app.add_option("--region", g.aws.region, "AWS region");
  app.add_option("--endpoint-url", g.aws.endpoint_url, "Send AWS requests to this URL (e.g. an emulator)");
  app.add_option("--bucket", g.aws.bucket,
                 "hoist's S3 bucket, when hoist-<account>-<region> is taken (also HOIST_BUCKET, hoist.toml bucket)");
}

}  // namespace hoist::cli
