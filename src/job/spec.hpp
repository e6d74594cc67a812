#pragma once
// A job as hoist keeps it in S3 (docs/job-spec.md): what runs, where, on what.
#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "job/image.hpp"
#include "job/manifest.hpp"
#include "job/planner.hpp"
#include "job/project.hpp"

namespace hoist::job {

struct Job {
  std::string id;
  std::string project;
  std::string account;
  std::string region;
  std::string bucket;
  RunOptions options;
  InstancePlan plan;
  std::string ami;  // the machine image booted
  ImageSpec image;
  std::string registry;    // <account>.dkr.ecr.<region>.amazonaws.com
  std::string repository;  // hoist/<project>
  Manifest code;
  Manifest inputs;
  std::string input_s3;   // s3://... when INPUT was a URI
  std::string output_s3;  // where outputs go
  // The agent bundle the instance runs (blobs/sha256/<agent_sha256>).
  std::string agent_sha256;
  std::uint64_t agent_size = 0;
  std::chrono::system_clock::time_point created;

  [[nodiscard]] nlohmann::json to_json() const;
  [[nodiscard]] std::string prefix() const;  // jobs/<id>/
};

// The parts of job.json that `hoist status/logs/results/cost` need.
struct StoredJob {
  std::string id, project, bucket, region, output_s3, instance_type, entry;
  bool spot = false;
  double usd_per_hour = 0;           // instance + disk
  double instance_usd_per_hour = 0;  // instance alone (spot: at launch)
  int disk_gib = 0;
  std::string zone;          // the zone the price is for ("" for on-demand)
  std::string price_source;  // where the price came from, as the plan said
  bool price_known = false;
  std::chrono::seconds max_runtime{0};
  std::string created_at;
  nlohmann::json raw;
  static StoredJob from_json(const nlohmann::json& j);
};

struct JobStatus {
  std::string phase;
  std::optional<int> exit_code;
  std::string error;
  std::string instance_id;
  std::string updated_at;
  std::optional<bool> image_reused;
  bool image_pushed = false;  // built on the instance and pushed to the registry
  std::string image_runtime;  // "docker", or "process" (a venv, no image)
  nlohmann::json raw;

  [[nodiscard]] bool terminal() const;
  // What the running phase says of the image: " (image reused from ECR)",
  // " (image built and pushed to ECR)", ... or "" when the status does not say.
  [[nodiscard]] std::string image_note() const;
  static JobStatus from_json(const nlohmann::json& j);
};

bool is_terminal_phase(const std::string& phase);
// Seconds between two ISO 8601 UTC stamps ("2026-11-24T03:15:00Z" or with
// fractions); nullopt when either does not parse.
std::optional<std::chrono::seconds> seconds_between(const std::string& from, const std::string& to);

}  // namespace hoist::job
