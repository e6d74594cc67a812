#include "job/spec.hpp"

#include <ctime>

#include "job/naming.hpp"

namespace hoist::job {

std::string Job::prefix() const {
  return job_prefix(id);
}

nlohmann::json Job::to_json() const {
  nlohmann::json j;
  j["version"] = 1;
  j["job_id"] = id;
  j["project"] = project;
  j["bucket"] = bucket;
  j["region"] = region;
  j["entry"] = options.script;
  j["args"] = options.args;
  j["code"] = job::to_json(code);
  j["inputs"] = job::to_json(inputs);
  j["input_s3"] = input_s3.empty() ? nlohmann::json(nullptr) : nlohmann::json(input_s3);
  j["output_s3"] = output_s3;
  if (!agent_sha256.empty()) j["agent"] = {{"sha256", agent_sha256}, {"size", agent_size}};
  j["image"] = {{"key", image.key},       {"repository", repository}, {"registry", registry},
                {"python", image.python}, {"arch", image.arch},       {"dockerfile", image.dockerfile}};
  j["resources"] = {{"instance_type", plan.type.name},
                    {"gpus", plan.type.gpus},
                    {"spot", plan.spot},
                    {"disk_gib", plan.disk_gib},
                    {"ami", ami},
                    {"usd_per_hour", plan.usd_per_hour},
                    {"instance_usd_per_hour", plan.instance_usd_per_hour},
                    {"on_demand_usd_per_hour", plan.on_demand_usd_per_hour},
                    {"price_source", plan.price_from.describe(created, "Pricing API")},
                    {"zone", plan.zone},
                    {"price_known", plan.price_known}};
  if (options.budget_usd > 0) j["budget_usd"] = options.budget_usd;
  j["max_runtime_seconds"] = options.max_runtime.count();
  j["created_at"] = iso8601(created);
  j["hoist_version"] = HOIST_VERSION;
  return j;
}

StoredJob StoredJob::from_json(const nlohmann::json& j) {
  StoredJob s;
  s.raw = j;
  s.id = j.value("job_id", "");
  s.project = j.value("project", "");
  s.bucket = j.value("bucket", "");
  s.region = j.value("region", "");
  s.output_s3 = j.value("output_s3", "");
  s.entry = j.value("entry", "");
  s.created_at = j.value("created_at", "");
  s.max_runtime = std::chrono::seconds(j.value("max_runtime_seconds", 0LL));
  if (j.contains("resources")) {
    const auto& r = j["resources"];
    s.instance_type = r.value("instance_type", "");
    s.spot = r.value("spot", false);
    s.usd_per_hour = r.value("usd_per_hour", 0.0);
    s.price_known = r.value("price_known", false);
    s.disk_gib = r.value("disk_gib", 0);
    s.zone = r.value("zone", "");
    s.price_source = r.value("price_source", "");
    // Records before 0.x have only the total with the disk.
    s.instance_usd_per_hour = r.value("instance_usd_per_hour", s.usd_per_hour - kEbsUsdPerGibHour * s.disk_gib);
  }
  return s;
}

bool is_terminal_phase(const std::string& p) {
  return p == "succeeded" || p == "failed" || p == "cancelled" || p == "preempted" || p == "timed_out";
}

bool JobStatus::terminal() const {
  return is_terminal_phase(phase);
}

JobStatus JobStatus::from_json(const nlohmann::json& j) {
  JobStatus s;
  s.raw = j;
  s.phase = j.value("phase", "");
  if (j.contains("exit_code") && j["exit_code"].is_number_integer()) s.exit_code = j["exit_code"].get<int>();
  if (j.contains("error") && j["error"].is_string()) s.error = j["error"].get<std::string>();
  if (j.contains("instance_id") && j["instance_id"].is_string()) s.instance_id = j["instance_id"].get<std::string>();
  s.updated_at = j.value("updated_at", "");
  if (j.contains("image") && j["image"].is_object()) {
    const auto& image = j["image"];
    if (image.contains("reused") && image["reused"].is_boolean()) s.image_reused = image["reused"].get<bool>();
    if (image.contains("pushed") && image["pushed"].is_boolean()) s.image_pushed = image["pushed"].get<bool>();
    if (image.contains("runtime") && image["runtime"].is_string())
      s.image_runtime = image["runtime"].get<std::string>();
  }
  return s;
}

std::string JobStatus::image_note() const {
  if (!image_reused) return "";
  if (image_runtime == "process") return " (process runtime: a venv, no container)";
  if (*image_reused) return " (image reused from ECR)";
  return image_pushed ? " (image built and pushed to ECR)" : "";
}

std::optional<std::chrono::seconds> seconds_between(const std::string& from, const std::string& to) {
  auto parse = [](const std::string& s) -> std::optional<std::time_t> {
    std::tm tm{};
    if (s.size() < 19 || !strptime(s.c_str(), "%Y-%m-%dT%H:%M:%S", &tm)) return std::nullopt;
    return timegm(&tm);
  };
  auto a = parse(from), b = parse(to);
  if (!a || !b) return std::nullopt;
  return std::chrono::seconds(*b - *a);
}

}  // namespace hoist::job
