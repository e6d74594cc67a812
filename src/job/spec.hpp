#pragma once
// A job as hoist keeps it in S3 (docs/job-spec.md): what runs, where, on what.
#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>

#include "job/image.hpp"
#include "job/manifest.hpp"
#include "job/planner.hpp"
#include "job/project.hpp"
#include "job/record.hpp"

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
  Manifest checkpoint;  // --checkpoint: the folder's files at launch (the first attempt's seed)
  // --spot-retries/--spot-fallback: successor_launch's request (null otherwise).
  nlohmann::json launch;
  // --notify: notify_record (null otherwise).
  nlohmann::json notify;
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
  double usd_per_hour = 0;            // instance + disk
  double instance_usd_per_hour = 0;   // instance alone (spot: at launch)
  double on_demand_usd_per_hour = 0;  // the type's on-demand price (a fallback attempt's)
  int disk_gib = 0;
  std::string zone;          // the zone the price is for ("" for on-demand)
  std::string price_source;  // where the price came from, as the plan said
  bool price_known = false;
  std::chrono::seconds max_runtime{0};
  std::string created_at;
  nlohmann::json raw;
  static StoredJob from_json(const nlohmann::json& j);
};

// Adds the sha256 of every blob a job.json names (Job::to_json's code,
// inputs, checkpoint seed and agent) to `out`. `gc --blobs` keeps these.
void add_blobs_named(const nlohmann::json& job_json, std::set<std::string>& out);

// The job.json of a job; nullopt when it (or the bucket) is missing.
std::optional<StoredJob> read_job(aws::S3& s3, const std::string& bucket, const std::string& job_id);

}  // namespace hoist::job
