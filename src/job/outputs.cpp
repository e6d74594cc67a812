#include "job/outputs.hpp"

#include "aws/s3.hpp"
#include "job/naming.hpp"
#include "job/reporter.hpp"
#include "job/spec.hpp"
#include "util/error.hpp"
#include "util/text.hpp"

namespace hoist::job {
namespace {
StoredJob require_job(aws::S3& s3, const Connected& c, const std::string& job_id) {
  auto spec = read_job(s3, c.bucket, job_id);
  if (!spec) throw Fatal(Exit::not_found, "no job " + job_id + " in " + c.bucket + ": see `hoist ls`");
  return *spec;
}
}  // namespace

DownloadStats results(const Connected& c, const std::string& job_id, const std::string& dir, Reporter& reporter) {
  aws::S3 s3(c.session);
  const StoredJob spec = require_job(s3, c, job_id);
  const std::string into = dir.empty() ? job_id : dir;
  const auto d = download_prefix(s3, spec.output_s3, into, reporter);
  reporter.say({"outputs",
                std::to_string(d.files) + " files (" + human_bytes(static_cast<double>(d.bytes)) + ") in " + into,
                {{"files", d.files}, {"bytes", d.bytes}, {"output", into}}});
  const auto uri = aws::S3Uri::parse(spec.output_s3);
  const std::string console = console_url(uri.bucket, c.account.region, uri.key);
  reporter.say({"console", "S3 console: " + console, {{"url", console}}});
  return d;
}

void logs(const Connected& c, const std::string& job_id, const LogsOptions& options, Reporter& reporter) {
  aws::S3 s3(c.session);
  const StoredJob spec = require_job(s3, c, job_id);
  if (options.bootstrap) {
    auto body = s3.get_object_if_exists(c.bucket, keys::bootstrap_log(job_id));
    if (!body) throw Fatal(Exit::not_found, "job " + job_id + " has no bootstrap log yet");
    reporter.log(*body);
    return;
  }
  if (!options.follow) {
    LogFollower(s3, c.bucket, job_id).poll([&](const std::string& chunk) { reporter.log(chunk); });
    return;
  }
  // The same follower as `hoist run`'s.
  const auto limit = spec.max_runtime.count() > 0 ? spec.max_runtime : std::chrono::hours(24);
  watch(c.session, c.bucket, job_id, "", limit, reporter);
}

}  // namespace hoist::job
