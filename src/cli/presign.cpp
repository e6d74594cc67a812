// `hoist presign s3://BUCKET/KEY [--expires-in S]`: prints a presigned GET
// URL, like `aws s3 presign`. The URL is the command's product, so it goes to
// stdout; it is never logged.
#include <chrono>
#include <iostream>
#include <memory>

#include "aws/client.hpp"
#include "aws/error.hpp"
#include "aws/s3.hpp"
#include "aws/s3_detail.hpp"
#include "cli/commands.hpp"
#include "util/log.hpp"

namespace hoist::cli {
namespace {

// A clock off by less is left alone: Date has whole seconds, and the answer
// takes a while.
constexpr std::chrono::seconds kClockTolerance{60};

// A presigned URL carries its signing time and AWS judges it by its own
// clock: signed by a clock an hour slow, a one-hour URL is expired on
// arrival. One HEAD of the object tells AWS's time (its Date, whatever the
// answer), and whether the URL can work at all; without an answer the
// computer's clock is used.
void learn_aws_time(aws::S3& s3, const std::shared_ptr<aws::Session>& session, const aws::S3Uri& uri) {
  aws::HttpRequest r;
  r.method = "HEAD";
  r.path = aws::s3_detail::object_path(uri.bucket, uri.key);
  aws::CallOptions options;
  options.ok_statuses = {301, 400, 403, 404};  // each has a Date
  aws::HttpResponse response;
  const auto asked = std::chrono::system_clock::now();
  try {
    response = s3.client().send("HeadObject", std::move(r), options);
  } catch (const aws::AwsError& e) {
    log::warn("could not ask S3 for its time (" + e.code + "): the URL is signed by this computer's clock");
    return;
  }
  const std::string object = "s3://" + uri.bucket + "/" + uri.key;
  if (response.status == 404) log::warn("no object " + object + " (yet): the URL answers 404 until there is one");
  if (response.status == 403) log::warn("these credentials may not read " + object + ": the URL is refused likewise");
  const auto aws_time = aws::server_time(response);
  if (!aws_time) return;
  const auto now = asked + (std::chrono::system_clock::now() - asked) / 2;
  const auto offset = std::chrono::duration_cast<std::chrono::milliseconds>(*aws_time - now);
  if (std::chrono::abs(offset) < kClockTolerance) return;
  session->clock_offset_ms.store(offset.count());
  log::warn("this computer's clock is " +
            std::to_string(std::chrono::duration_cast<std::chrono::seconds>(std::chrono::abs(offset)).count()) + " s " +
            (offset.count() > 0 ? "behind" : "ahead of") + " AWS's: the URL is signed with AWS's time");
}

}  // namespace

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
            auto session = aws::Session::create(globals.aws);
            aws::S3 s3(session);
            if (!uri.key.empty()) learn_aws_time(s3, session, uri);
            std::cout << s3.presign_get(uri.bucket, uri.key, std::chrono::seconds(args->expires_in)) << '\n';
            return 0;
          }};
}

}  // namespace hoist::cli
