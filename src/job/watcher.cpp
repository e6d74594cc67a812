#include "job/watcher.hpp"

#include <algorithm>
#include <filesystem>
#include <mutex>
#include <thread>

#include "aws/ec2.hpp"
#include "aws/error.hpp"
#include "aws/http.hpp"
#include "aws/retry.hpp"
#include "job/manifest.hpp"
#include "job/reporter.hpp"

namespace fs = std::filesystem;

namespace hoist::job {

LogFollower::LogFollower(aws::S3& s3, std::string bucket, const std::string& job_id)
    : s3_(s3), bucket_(std::move(bucket)), prefix_(keys::job_logs(job_id)) {}

std::size_t LogFollower::poll(const std::function<void(const std::string&)>& each) {
  std::vector<std::string> keys;
  s3_.list_objects(
      bucket_, prefix_, [&](const aws::ObjectInfo& o) { keys.push_back(o.key); }, last_key_.empty() ? "" : last_key_);
  for (const auto& k : keys) {
    auto body = s3_.get_object_if_exists(bucket_, k);
    if (body) each(*body);
    last_key_ = k;
  }
  return keys.size();
}

namespace {
// An error that says nothing about the job, only about reaching AWS now: no
// network (a laptop on the move, asleep, between Wi-Fi networks), AWS's own
// 5xx, throttling. Following can wait it out; the job goes on in AWS.
bool out_of_contact(const aws::AwsError& e) {
  return aws::classify(e.http_status, e.code) != aws::Retryability::no;
}
}  // namespace

WatchResult watch(const std::shared_ptr<aws::Session>& session, const std::string& bucket, const std::string& job_id,
                  const std::string& instance_id, std::chrono::seconds max_runtime, Reporter& reporter,
                  const WatchOptions& options) {
  using Clock = Follow::Clock;
  aws::S3 s3(session);
  aws::Ec2 ec2(session);
  LogFollower logs(s3, bucket, job_id);
  Follow follow(Clock::now(), max_runtime, options.poll, instance_id);
  auto detach = [&] { return options.detach_requested && options.detach_requested(); };
  auto act = [&](const FollowEvents& events) {
    for (const auto& e : events) {
      switch (e.kind) {
        case FollowEvent::Kind::phase:
          reporter.phase(e.phase, e.phase == phase_name(Phase::interrupted) ? follow.handover() : follow.status());
          break;
        case FollowEvent::Kind::fetch_logs:
          logs.poll([&](const std::string& chunk) { reporter.log(chunk); });
          break;
        case FollowEvent::Kind::contact_lost:
          reporter.contact_lost(e.code);
          break;
        case FollowEvent::Kind::contact_restored:
          reporter.contact_restored(e.away);
          break;
        case FollowEvent::Kind::ended:
          break;
      }
    }
  };
  auto result = [&](WatchEnd end) {
    return WatchResult{end, follow.status(), follow.instance().state, follow.instance().reason};
  };
  for (;;) {
    if (detach()) return result(WatchEnd::detached);
    try {
      act(follow.status_read(read_status(s3, bucket, job_id)));
      if (follow.instance_due(Clock::now())) {
        std::optional<InstanceSeen> seen;
        try {
          // Not listed at all, or not found: gone.
          if (auto inst = ec2.describe_instance(follow.instance_id()))
            seen = InstanceSeen{inst->state, inst->state_reason_code};
        } catch (const aws::AwsError& e) {
          if (!e.not_found()) throw;
        }
        act(follow.instance_seen(seen, Clock::now()));
      }
      if (!follow.over()) act(follow.reached(Clock::now()));
    } catch (const aws::AwsError& e) {
      if (!out_of_contact(e)) throw;
      act(follow.unreachable(e.code, Clock::now()));
    }
    act(follow.tick(Clock::now()));
    if (follow.over()) return result(*follow.end());
    // Sleep in slices, so that a Ctrl-C during a long wait is seen at once.
    const auto until = Clock::now() + follow.wait();
    while (Clock::now() < until && !detach())
      std::this_thread::sleep_for(std::min<Clock::duration>(until - Clock::now(), std::chrono::milliseconds(200)));
  }
}

DownloadStats download_prefix(aws::S3& s3, const std::string& s3_uri, const std::string& local_dir,
                              Reporter& reporter) {
  auto uri = aws::S3Uri::parse(s3_uri);
  std::string prefix = uri.key;
  if (!prefix.empty() && prefix.back() != '/') prefix += '/';
  std::vector<aws::ObjectInfo> objects;
  s3.list_objects(uri.bucket, prefix, [&](const aws::ObjectInfo& o) { objects.push_back(o); });
  DownloadStats stats;
  std::mutex mutex;
  fs::create_directories(local_dir);
  aws::parallel_for(objects.size(), 8, [&](std::size_t i) {
    const auto& o = objects[i];
    std::string rel = o.key.substr(prefix.size());
    if (rel.empty() || rel.back() == '/') return;  // folder placeholders
    if (!safe_relative_name(rel)) {
      reporter.warn("skipping output with an unsafe name: " + rel);
      return;
    }
    fs::path dest = fs::path(local_dir) / rel;
    fs::create_directories(dest.parent_path());
    s3.download_file(uri.bucket, o.key, dest.string());
    std::lock_guard lock(mutex);
    stats.files++;
    stats.bytes += o.size;
  });
  return stats;
}

}  // namespace hoist::job
