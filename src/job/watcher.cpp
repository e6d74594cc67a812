#include "job/watcher.hpp"

#include <algorithm>
#include <filesystem>
#include <mutex>
#include <set>
#include <thread>

#include "aws/ec2.hpp"
#include "aws/error.hpp"
#include "aws/http.hpp"
#include "aws/retry.hpp"
#include "job/account.hpp"
#include "job/manifest.hpp"
#include "job/naming.hpp"
#include "job/project.hpp"
#include "util/error.hpp"
#include "util/log.hpp"

namespace fs = std::filesystem;

namespace hoist::job {
namespace {
constexpr const char* kProgressPhases[] = {"launching", "booting", "staging", "building", "running", "uploading"};
// A job's record, or nullopt when the object or the whole bucket is missing:
// no bucket means no job (say, after `hoist down --all`), not a failure.
std::optional<std::string> read_job_object(aws::S3& s3, const std::string& bucket, const std::string& key) {
  try {
    return s3.get_object_if_exists(bucket, key);
  } catch (const aws::AwsError& e) {
    if (e.is("NoSuchBucket")) return std::nullopt;
    throw;
  }
}
}  // namespace

LogFollower::LogFollower(aws::S3& s3, std::string bucket, const std::string& job_id)
    : s3_(s3), bucket_(std::move(bucket)), prefix_(job_prefix(job_id) + "logs/job/") {}

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

std::optional<JobStatus> read_status(aws::S3& s3, const std::string& bucket, const std::string& job_id) {
  auto body = read_job_object(s3, bucket, job_prefix(job_id) + "status.json");
  if (!body) return std::nullopt;
  try {
    return JobStatus::from_json(nlohmann::json::parse(*body));
  } catch (const nlohmann::json::exception&) {
    return std::nullopt;  // a write in progress elsewhere; read again later
  }
}

std::optional<StoredJob> read_job(aws::S3& s3, const std::string& bucket, const std::string& job_id) {
  auto body = read_job_object(s3, bucket, job_prefix(job_id) + "job.json");
  if (!body) return std::nullopt;
  return StoredJob::from_json(nlohmann::json::parse(*body));
}

namespace {
// Instances by their hoist:job tag; of a job's several (a relaunch, say), the
// one still alive.
std::map<std::string, aws::Instance> by_job_preferring_alive(std::vector<aws::Instance> found) {
  std::map<std::string, aws::Instance> out;
  for (auto& i : found) {
    auto tag = i.tags.find(std::string(kJobTag));
    if (tag == i.tags.end()) continue;
    auto [at, fresh] = out.try_emplace(tag->second, i);
    if (!fresh && i.state != "terminated") at->second = std::move(i);
  }
  return out;
}
}  // namespace

std::optional<std::string> find_job_instance(const std::shared_ptr<aws::Session>& session, const std::string& job_id,
                                             std::string* state, std::string* launch_time) {
  aws::Ec2 ec2(session);
  auto by_job = by_job_preferring_alive(ec2.describe_instances({{"tag:" + std::string(kJobTag), {job_id}}}));
  auto found = by_job.find(job_id);
  if (found == by_job.end()) return std::nullopt;
  if (state) *state = found->second.state;
  if (launch_time) *launch_time = found->second.launch_time;
  return found->second.id;
}

std::map<std::string, aws::Instance> job_instances(const std::shared_ptr<aws::Session>& session) {
  aws::Ec2 ec2(session);
  return by_job_preferring_alive(ec2.describe_instances({{"tag:" + std::string(kManagedTag), {"true"}}}));
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
                  const std::string& instance_id, std::chrono::seconds max_runtime, const WatchEvents& events) {
  aws::S3 s3(session);
  aws::Ec2 ec2(session);
  LogFollower logs(s3, bucket, job_id);
  WatchResult result;
  std::string last_phase;
  std::set<std::string> announced;
  auto show_logs = [&] {
    logs.poll([&](const std::string& chunk) {
      if (events.on_log) events.on_log(chunk);
    });
  };
  const auto start = std::chrono::steady_clock::now();
  auto next_instance_check = start + std::chrono::seconds(10);
  // When the instance was first seen ending (a plain value: GCC 12 misreads an
  // optional time_point as maybe-uninitialized).
  bool gone = false;
  std::chrono::steady_clock::time_point gone_since{};
  const auto poll = events.poll;

  // One look at the job: true when the watch is over (result filled in).
  auto look = [&]() -> bool {
    if (auto st = read_status(s3, bucket, job_id)) {
      result.status = *st;
      if (st->phase != last_phase) {
        last_phase = st->phase;
        auto announce = [&](const std::string& phase) {
          if (announced.insert(phase).second && events.on_phase) events.on_phase(phase, *st);
        };
        // Every phase reached, in order, even those passed between two polls.
        // The instance ships the script's log before it leaves `running`, so
        // the log goes right after [running], before [uploading] and the end.
        const bool has_phases = st->raw.contains("phases") && st->raw["phases"].is_object();
        for (const char* phase : kProgressPhases) {
          if (phase != st->phase && !(has_phases && st->raw["phases"].contains(phase))) continue;
          announce(phase);
          if (std::string_view(phase) == "running") show_logs();
        }
      }
    }
    show_logs();
    if (result.status.terminal()) {
      // The final chunk is uploaded before the terminal status; poll once more.
      show_logs();
      if (events.on_phase) events.on_phase(result.status.phase, result.status);
      result.end = WatchEnd::terminal;
      return true;
    }
    auto now = std::chrono::steady_clock::now();
    if (now >= next_instance_check && !instance_id.empty()) {
      next_instance_check = now + std::chrono::seconds(10);
      try {
        if (auto inst = ec2.describe_instance(instance_id)) {
          result.instance_state = inst->state;
          result.instance_state_reason = inst->state_reason_code;
          bool ending = inst->state == "shutting-down" || inst->state == "terminated" || inst->state == "stopped";
          if (ending && !gone) gone_since = now;
          gone = ending;
        }
      } catch (const aws::AwsError& e) {
        if (!e.not_found()) throw;
        if (!gone) gone_since = now;
        gone = true;
      }
      // The instance may end a moment before its last status write lands.
      if (gone && now - gone_since > std::chrono::seconds(30)) {
        result.end = WatchEnd::lost;
        return true;
      }
    }
    return false;
  };

  std::chrono::milliseconds wait = poll;
  bool out = false;  // out of contact with AWS since `out_since`
  std::chrono::steady_clock::time_point out_since{};
  for (;;) {
    if (events.detach_requested && events.detach_requested()) {
      result.end = WatchEnd::detached;
      return result;
    }
    try {
      if (look()) return result;
      if (out) {
        const auto away = std::chrono::steady_clock::now() - out_since;
        log::info("hoist: back in contact with AWS after " +
                  format_duration(std::chrono::duration_cast<std::chrono::seconds>(away)));
        out = false;
      }
      wait = poll;
    } catch (const aws::AwsError& e) {
      if (!out_of_contact(e)) throw;
      if (!out) {
        out = true;
        out_since = std::chrono::steady_clock::now();
        log::warn("lost contact with AWS (" + e.code + "); still trying, and the job goes on in AWS meanwhile " +
                  "(Ctrl-C detaches)");
      }
      wait = std::min(std::max(wait * 2, std::chrono::milliseconds(2000)), std::chrono::milliseconds(30000));
    }
    if (std::chrono::steady_clock::now() - start > max_runtime + std::chrono::minutes(10)) {
      result.end = WatchEnd::overdue;
      return result;
    }
    // Sleep in slices, so that a Ctrl-C during a long wait is seen at once.
    const auto until = std::chrono::steady_clock::now() + wait;
    while (std::chrono::steady_clock::now() < until && !(events.detach_requested && events.detach_requested()))
      std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(
          until - std::chrono::steady_clock::now(), std::chrono::milliseconds(200)));
  }
}

std::vector<std::string> list_job_ids(aws::S3& s3, const std::string& bucket) {
  std::vector<aws::ObjectInfo> objects;
  std::vector<std::string> prefixes;
  if (!s3.head_bucket(bucket)) return {};
  s3.list_delimited(bucket, "jobs/", objects, prefixes);
  std::vector<std::string> ids;
  for (auto& p : prefixes) {
    std::string id = p.substr(5, p.size() - 6);
    if (valid_job_id(id)) ids.push_back(id);
  }
  std::sort(ids.begin(), ids.end(), [](const std::string& a, const std::string& b) {
    return a.substr(a.size() - 20) > b.substr(b.size() - 20);
  });
  return ids;
}

DownloadStats download_prefix(aws::S3& s3, const std::string& s3_uri, const std::string& local_dir) {
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
      log::warn("skipping output with an unsafe name: " + rel);
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

namespace {
bool tagged_for(const aws::Instance& inst, const std::string& job_id) {
  const auto tag = inst.tags.find(std::string(kJobTag));
  return tag != inst.tags.end() && tag->second == job_id;
}
}  // namespace

void release_job_resources(const std::shared_ptr<aws::Session>& session, const std::string& job_id,
                           const std::string& instance_id) {
  aws::Ec2 ec2(session);
  // status.json is written by the instance, so the id it names is only a
  // claim: an instance is ended only if its own hoist:job tag names this job.
  std::optional<aws::Instance> inst;
  if (!instance_id.empty()) {
    try {
      inst = ec2.describe_instance(instance_id);
    } catch (const aws::AwsError& e) {
      if (!e.not_found()) throw;
    }
    if (inst && !tagged_for(*inst, job_id)) {
      const auto tag = inst->tags.find(std::string(kJobTag));
      log::warn("the status of job " + job_id + " names instance " + instance_id + ", which is not the job's (" +
                (tag == inst->tags.end() ? "no " + std::string(kJobTag) + " tag" : "tagged for " + tag->second) +
                "): it is left alone");
      inst.reset();
    }
  }
  if (!inst) {
    if (auto id = find_job_instance(session, job_id)) {
      try {
        inst = ec2.describe_instance(*id);
      } catch (const aws::AwsError& e) {
        if (!e.not_found()) throw;
      }
    }
  }
  if (inst && inst->state != "terminated") ec2.terminate_instances({inst->id});
  delete_job_role(session, job_id);
}

}  // namespace hoist::job
