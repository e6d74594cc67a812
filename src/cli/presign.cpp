// `hoist presign s3://BUCKET/KEY [--expires-in S]`: prints a presigned GET
// URL, like `aws s3 presign`. The URL is the command's product, so it goes to
// stdout; it is never logged.
#include <chrono>
#include <iostream>
#include <memory>

#include "aws/client.hpp"
#include "aws/s3.hpp"
#include "cli/commands.hpp"

namespace hoist::cli {

Command register_presign(CLI::App& parent, Globals& globals) {
  struct Args {
    std::string uri;
    long long expires_in = 3600;
  };
  auto args = std::make_shared<Args>();
  auto* app = parent.add_subcommand("presign", "Print a presigned URL that downloads an S3 object");
  app->add_option("uri", args->uri, "s3://BUCKET/KEY")->required();
  app->add_option("--expires-in", args->expires_in, "Seconds the URL stays valid (default 3600, at most 604800)");
  add_aws_options(*app, globals);

  return {app, [args, &globals] {
            auto uri = aws::S3Uri::parse(args->uri);
            aws::S3 s3(aws::Session::create(globals.aws));
            std::cout << s3.presign_get(uri.bucket, uri.key, std::chrono::seconds(args->expires_in)) << '\n';
            return 0;
          }};
}

}  // namespace hoist::cli
