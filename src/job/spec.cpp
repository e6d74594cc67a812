#include "job/spec.hpp"

#include "job/naming.hpp"

namespace hoist::job {

std::string Job::prefix() const {
  return keys::prefix(id);
}

namespace {
void add_manifest(const nlohmann::json& manifest, std::set<std::string>& out) {
  if (!manifest.is_object()) return;
  for (const auto& [name, entry] : manifest.items())
    if (entry.is_object() && entry.contains("sha256") && entry["sha256"].is_string())
      out.insert(entry["sha256"].get<std::string>());
}
}  // namespace

void add_blobs_named(const nlohmann::json& job_json, std::set<std::string>& out) {
  add_manifest(job_json.value("code", nlohmann::json()), out);
  add_manifest(job_json.value("inputs", nlohmann::json()), out);
  if (auto cp = job_json.find("checkpoint"); cp != job_json.end() && cp->is_object())
    add_manifest(cp->value("seed", nlohmann::json()), out);
  if (auto agent = job_json.find("agent");
      agent != job_json.end() && agent->is_object() && agent->contains("sha256") && (*agent)["sha256"].is_string())
    out.insert((*agent)["sha256"].get<std::string>());
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
  if (!options.checkpoint.empty())
    j["checkpoint"] = {{"path", "/checkpoint"},
                       {"interval_seconds", options.checkpoint_every.count()},
                       {"seed", job::to_json(checkpoint)}};
  if (plan.spot || options.spot_retries > 0)
    j["recovery"] = {{"spot_retries", options.spot_retries}, {"spot_fallback", options.spot_fallback}};
  if (!launch.is_null()) j["launch"] = launch;
  if (!notify.is_null()) j["notify"] = notify;
  if (options.keep_instance) j["keep_instance"] = true;
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
    s.on_demand_usd_per_hour = r.value("on_demand_usd_per_hour", s.instance_usd_per_hour);
  }
  return s;
}

std::optional<StoredJob> read_job(aws::S3& s3, const std::string& bucket, const std::string& job_id) {
  auto body = read_spec_text(s3, bucket, job_id);
  if (!body) return std::nullopt;
  return StoredJob::from_json(nlohmann::json::parse(*body));
}

}  // namespace hoist::job
