#include "job/record.hpp"

#include <algorithm>
#include <ctime>

#include "aws/error.hpp"
#include "aws/s3.hpp"
#include "job/naming.hpp"

namespace hoist::job {

namespace keys {
std::string prefix(const std::string& job_id) {
  return std::string(kJobs) + job_id + "/";
}
std::string spec(const std::string& job_id) {
  return prefix(job_id) + "job.json";
}
std::string status(const std::string& job_id) {
  return prefix(job_id) + "status.json";
}
std::string cancel(const std::string& job_id) {
  return prefix(job_id) + "cancel";
}
std::string job_logs(const std::string& job_id) {
  return prefix(job_id) + "logs/job/";
}
std::string bootstrap_log(const std::string& job_id) {
  return prefix(job_id) + "logs/bootstrap.log";
}
std::string outputs(const std::string& job_id) {
  return prefix(job_id) + "output/";
}
std::string checkpoint(const std::string& job_id) {
  return prefix(job_id) + "checkpoint.json";
}
std::string checkpoint_content(const std::string& job_id) {
  return prefix(job_id) + "checkpoint/";
}
}  // namespace keys

namespace {
constexpr std::array<std::string_view, kPhases.size()> kPhaseNames = {
    "launching",   "booting",   "staging", "building",  "running",   "uploading",
    "interrupted", "succeeded", "failed",  "cancelled", "preempted", "timed_out"};
}  // namespace

std::string_view phase_name(Phase phase) {
  return kPhaseNames.at(static_cast<std::size_t>(phase));
}

std::optional<Phase> parse_phase(std::string_view name) {
  for (Phase p : kPhases)
    if (phase_name(p) == name) return p;
  return std::nullopt;
}

bool is_terminal(Phase phase) {
  return phase >= Phase::succeeded;
}

bool is_terminal_phase(std::string_view name) {
  const auto p = parse_phase(name);
  return p && is_terminal(*p);
}

bool JobStatus::terminal() const {
  return is_terminal_phase(phase);
}

bool JobStatus::attempt_going_on() const {
  return !terminal() && attempt > static_cast<int>(attempts.size());
}

bool JobStatus::reached(Phase p) const {
  if (phase == phase_name(p)) return true;
  const auto phases = raw.find("phases");
  return phases != raw.end() && phases->is_object() && phases->contains(std::string(phase_name(p)));
}

JobStatus JobStatus::from_json(const nlohmann::json& j) {
  JobStatus s;
  s.raw = j;
  s.phase = j.value("phase", "");
  if (j.contains("exit_code") && j["exit_code"].is_number_integer()) s.exit_code = j["exit_code"].get<int>();
  if (j.contains("error") && j["error"].is_string()) s.error = j["error"].get<std::string>();
  if (j.contains("instance_id") && j["instance_id"].is_string()) s.instance_id = j["instance_id"].get<std::string>();
  s.updated_at = j.value("updated_at", "");
  if (j.contains("attempt") && j["attempt"].is_number_integer()) s.attempt = j["attempt"].get<int>();
  if (j.contains("successor") && j["successor"].is_object() && j["successor"].contains("instance_id") &&
      j["successor"]["instance_id"].is_string())
    s.successor = j["successor"]["instance_id"].get<std::string>();
  if (j.contains("attempts") && j["attempts"].is_array()) {
    auto text = [](const nlohmann::json& a, const char* key) {
      return a.contains(key) && a[key].is_string() ? a[key].get<std::string>() : std::string();
    };
    for (const auto& a : j["attempts"]) {
      if (!a.is_object()) continue;
      s.attempts.push_back({a.value("attempt", 0), text(a, "instance_id"), text(a, "zone"), text(a, "started_at"),
                            text(a, "ended_at"), text(a, "ended"), text(a, "error"), a.value("spot", false)});
    }
  }
  if (j.contains("image") && j["image"].is_object()) {
    const auto& image = j["image"];
    if (image.contains("reused") && image["reused"].is_boolean()) s.image_reused = image["reused"].get<bool>();
    if (image.contains("pushed") && image["pushed"].is_boolean()) s.image_pushed = image["pushed"].get<bool>();
    if (image.contains("runtime") && image["runtime"].is_string())
      s.image_runtime = image["runtime"].get<std::string>();
  }
  return s;
}

JobStatus JobStatus::launching(const std::string& job_id, const std::string& at) {
  const std::string phase(phase_name(Phase::launching));
  return from_json({{"job_id", job_id},
                    {"phase", phase},
                    {"updated_at", at},
                    {"phases", {{phase, at}}},
                    {"instance_id", nullptr},
                    {"exit_code", nullptr},
                    {"error", nullptr}});
}

void JobStatus::advance(Phase to, const std::string& at, const std::string& why) {
  nlohmann::json j = raw;
  const std::string name(phase_name(to));
  j["phase"] = name;
  j["updated_at"] = at;
  if (!j.contains("phases") || !j["phases"].is_object()) j["phases"] = nlohmann::json::object();
  j["phases"][name] = at;
  if (!why.empty()) j["error"] = why;
  *this = from_json(j);
}

nlohmann::json JobStatus::to_json() const {
  return raw;
}

std::string JobStatus::image_note() const {
  if (!image_reused) return "";
  if (image_runtime == "process") return " (process runtime: a venv, no container)";
  if (*image_reused) return " (image reused from ECR)";
  return image_pushed ? " (image built and pushed to ECR)" : "";
}

std::string JobStatus::attempt_note() const {
  if (phase != phase_name(Phase::interrupted)) return attempt > 1 ? " (attempt " + std::to_string(attempt) + ")" : "";
  std::string out = " attempt " + std::to_string(attempt) + (instance_id.empty() ? "" : " on " + instance_id);
  if (!error.empty()) out += ": " + error;
  if (const auto cp = raw.find("checkpoint"); cp != raw.end() && cp->is_object() && cp->contains("files"))
    out += "; checkpoint saved (" + std::to_string(cp->value("files", 0)) + " files)";
  if (const auto next = raw.find("successor"); next != raw.end() && next->is_object()) {
    out += "; attempt " + std::to_string(next->value("attempt", attempt + 1)) + " launched: " + successor + " (" +
           (next->value("spot", false) ? "spot" : "on demand");
    const std::string zone =
        next->contains("zone") && (*next)["zone"].is_string() ? (*next)["zone"].get<std::string>() : std::string();
    out += (zone.empty() ? "" : ", " + zone) + ")";
  }
  return out;
}

namespace {
std::optional<std::string> read_record_object(aws::S3& s3, const std::string& bucket, const std::string& key) {
  try {
    return s3.get_object_if_exists(bucket, key);
  } catch (const aws::AwsError& e) {
    if (e.is("NoSuchBucket")) return std::nullopt;
    throw;
  }
}
}  // namespace

std::optional<JobStatus> read_status(aws::S3& s3, const std::string& bucket, const std::string& job_id) {
  auto body = read_record_object(s3, bucket, keys::status(job_id));
  if (!body) return std::nullopt;
  try {
    return JobStatus::from_json(nlohmann::json::parse(*body));
  } catch (const nlohmann::json::exception&) {
    return std::nullopt;  // a write in progress elsewhere; read again later
  }
}

void write_status(aws::S3& s3, const std::string& bucket, const std::string& job_id, const JobStatus& status) {
  s3.put_object(bucket, keys::status(job_id), status.to_json().dump(2), "application/json");
}

std::optional<std::string> read_spec_text(aws::S3& s3, const std::string& bucket, const std::string& job_id) {
  return read_record_object(s3, bucket, keys::spec(job_id));
}

std::vector<std::string> list_job_ids(aws::S3& s3, const std::string& bucket) {
  std::vector<aws::ObjectInfo> objects;
  std::vector<std::string> prefixes;
  if (!s3.head_bucket(bucket)) return {};
  s3.list_delimited(bucket, std::string(keys::kJobs), objects, prefixes);
  std::vector<std::string> ids;
  for (auto& p : prefixes) {
    std::string id = p.substr(keys::kJobs.size(), p.size() - keys::kJobs.size() - 1);
    if (valid_job_id(id)) ids.push_back(id);
  }
  std::sort(ids.begin(), ids.end(), [](const std::string& a, const std::string& b) {
    return a.substr(a.size() - 20) > b.substr(b.size() - 20);
  });
  return ids;
}

std::optional<std::chrono::seconds> seconds_between(const std::string& from, const std::string& to) {
  auto parse = [](const std::string& s) -> std::optional<std::time_t> {
    std::tm tm{};
    if (s.size() < 19 || !strptime(s.c_str(), "%Y-%m-%dT%H:%M:%S", &tm)) return std::nullopt;
    return timegm(&tm);
  };
  const auto a = parse(from);
  const auto b = parse(to);
  if (!a || !b) return std::nullopt;
  return std::chrono::seconds(*b - *a);
}

}  // namespace hoist::job
