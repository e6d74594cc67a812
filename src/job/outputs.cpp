#include "job/outputs.hpp"

#include <filesystem>
#include <mutex>
#include <nlohmann/json.hpp>

#include "aws/crypto.hpp"
#include "aws/http.hpp"
#include "aws/s3.hpp"
#include "job/manifest.hpp"
#include "job/naming.hpp"
#include "job/reporter.hpp"
#include "job/spec.hpp"
#include "util/error.hpp"
#include "util/text.hpp"

namespace fs = std::filesystem;

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

std::optional<DownloadStats> download_checkpoint(aws::S3& s3, const std::string& bucket, const std::string& job_id,
                                                 const std::string& dir, Reporter& reporter) {
  auto body = s3.get_object_if_exists(bucket, keys::checkpoint(job_id));
  if (!body) return std::nullopt;
  const auto manifest = nlohmann::json::parse(*body, nullptr, false);
  if (!manifest.is_object() || !manifest.contains("files") || !manifest["files"].is_object())
    throw Fatal(Exit::aws, "the checkpoint record s3://" + bucket + "/" + keys::checkpoint(job_id) +
                               " is not a checkpoint manifest: it was not written by hoist");
  struct Item {
    std::string rel, sha256;
    std::uint64_t size = 0;
  };
  std::vector<Item> items;
  for (const auto& [rel, entry] : manifest["files"].items()) {
    const std::string sha = entry.is_object() ? entry.value("sha256", "") : "";
    if (!safe_relative_name(rel) || !is_sha256_hex(sha)) {
      reporter.warn("skipping a checkpoint file with an unsafe name or hash: " + rel);
      continue;
    }
    items.push_back({rel, sha, entry.value("size", std::uint64_t{0})});
  }
  fs::create_directories(dir);
  DownloadStats stats;
  std::mutex mutex;
  aws::parallel_for(items.size(), 8, [&](std::size_t i) {
    const Item& item = items[i];
    const fs::path dest = fs::path(dir) / item.rel;
    fs::create_directories(dest.parent_path());
    const fs::path part = dest.string() + ".hoist-part";
    s3.download_file(bucket, keys::checkpoint_content(job_id) + item.sha256, part.string());
    if (aws::sha256_file(part.string()) != item.sha256) {
      fs::remove(part);
      throw Fatal(Exit::aws, "the checkpoint file " + item.rel + " does not match its sha256: not kept");
    }
    fs::rename(part, dest);
    std::lock_guard lock(mutex);
    stats.files++;
    stats.bytes += item.size;
  });
  return stats;
}

void checkpoint_results(const Connected& c, const std::string& job_id, const std::string& dir, Reporter& reporter) {
  aws::S3 s3(c.session);
  require_job(s3, c, job_id);
  const auto d = download_checkpoint(s3, c.bucket, job_id, dir, reporter);
  if (!d)
    throw Fatal(Exit::not_found, "job " + job_id +
                                     " saved no checkpoint (it ran without --checkpoint, or "
                                     "ended before its first save)");
  reporter.say(checkpoint_brought(*d, dir));
}

Event checkpoint_brought(const DownloadStats& d, const std::string& dir) {
  return {
      "checkpoint",
      "checkpoint: " + std::to_string(d.files) + " files (" + human_bytes(static_cast<double>(d.bytes)) + ") in " + dir,
      {{"files", d.files}, {"bytes", d.bytes}, {"checkpoint", dir}}};
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
