#pragma once
// A job's record in S3, the one home of its shape on the laptop side
// (docs/job-spec.md): where each object of jobs/<id>/ is, the phases a job
// passes through, and its status.json. The instance writes the same record:
// agent/hoist_agent/record.py, which a unit test holds against this file.
#include <array>
#include <chrono>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace hoist::aws {
class S3;
}

namespace hoist::job {

// The keys of a job's record, all under jobs/<id>/.
namespace keys {
inline constexpr std::string_view kJobs = "jobs/";     // every job's prefix is under it
std::string prefix(const std::string& job_id);         // jobs/<id>/
std::string spec(const std::string& job_id);           // job.json: what runs (the laptop writes it)
std::string status(const std::string& job_id);         // status.json: where it is (both write it)
std::string cancel(const std::string& job_id);         // cancel: present once `hoist cancel` asked
std::string job_logs(const std::string& job_id);       // logs/job/: the script's output, in chunks
std::string bootstrap_log(const std::string& job_id);  // logs/bootstrap.log: the instance's own log
std::string outputs(const std::string& job_id);        // output/: the default OUTPUT
// --checkpoint: the last saved checkpoint's manifest, and its files by sha256
std::string checkpoint(const std::string& job_id);          // checkpoint.json
std::string checkpoint_content(const std::string& job_id);  // checkpoint/<sha256>
}  // namespace keys

// The phases of a job, in the order it passes them; the last five end it.
// `interrupted`: a spot attempt ended by its notice with its successor
// launched (JobStatus::successor); the next attempt starts again at booting.
enum class Phase {
  launching,
  booting,
  staging,
  building,
  running,
  uploading,
  interrupted,
  succeeded,
  failed,
  cancelled,
  preempted,
  timed_out
};
inline constexpr std::array kPhases = {Phase::launching, Phase::booting,   Phase::staging,     Phase::building,
                                       Phase::running,   Phase::uploading, Phase::interrupted, Phase::succeeded,
                                       Phase::failed,    Phase::cancelled, Phase::preempted,   Phase::timed_out};
std::string_view phase_name(Phase phase);
// nullopt for a name this hoist does not know (a newer agent's, say).
std::optional<Phase> parse_phase(std::string_view name);
bool is_terminal(Phase phase);
bool is_terminal_phase(std::string_view name);

// One ended attempt of a relaunched spot job, as status.json's "attempts"
// lists it (a field it lacks is "" / 0 / false).
struct Attempt {
  int attempt = 0;
  std::string instance_id, zone, started_at, ended_at, ended, error;
  bool spot = false;
};

// status.json.
struct JobStatus {
  std::string phase;  // as written: may be one this hoist does not know
  std::optional<int> exit_code;
  std::string error;
  std::string instance_id;
  std::string updated_at;
  std::optional<bool> image_reused;
  bool image_pushed = false;      // built on the instance and pushed to the registry
  std::string image_runtime;      // "docker", or "process" (a venv, no image)
  int attempt = 1;                // which attempt wrote it (spot relaunches count up)
  std::string successor;          // interrupted: the next attempt's instance ("" until it is launched)
  std::vector<Attempt> attempts;  // the attempts that ended, in order
  nlohmann::json raw;             // every field, those above included

  [[nodiscard]] bool terminal() const;
  // Whether an attempt after those in `attempts` is going on.
  [[nodiscard]] bool attempt_going_on() const;
  // Whether the record says the job reached `phase` (now or before).
  [[nodiscard]] bool reached(Phase phase) const;
  // What the running phase says of the image: " (image reused from ECR)",
  // " (image built and pushed to ECR)", ... or "" when the status does not say.
  [[nodiscard]] std::string image_note() const;
  // What the record says of its attempt: "" for the first; " (attempt 2)"
  // for a later one; at `interrupted`, the attempt that ended, the
  // checkpoint it saved and the one launched next.
  [[nodiscard]] std::string attempt_note() const;
  static JobStatus from_json(const nlohmann::json& j);

  // The record the laptop writes before RunInstances: launching, since `at`.
  static JobStatus launching(const std::string& job_id, const std::string& at);
  // This record moved on to `phase` at `at` (with an error for a failure).
  void advance(Phase to, const std::string& at, const std::string& why = "");
  [[nodiscard]] nlohmann::json to_json() const;
};

// The fields of status.json, as the agent writes them.
inline constexpr std::array kStatusFields = {
    "job_id", "phase", "phases", "updated_at", "instance_id", "exit_code", "error", "image", "outputs",
    // the attempts of a relaunched spot job, and its checkpoint
    "attempt", "attempts", "started_at", "spot", "zone", "successor", "next_attempt", "log_chunks", "checkpoint"};

// Reading the record. nullopt when the object, or the whole bucket, is
// missing: no bucket means no job (say, after `hoist down --all`).
std::optional<JobStatus> read_status(aws::S3& s3, const std::string& bucket, const std::string& job_id);
void write_status(aws::S3& s3, const std::string& bucket, const std::string& job_id, const JobStatus& status);
// job.json's text; nullopt as read_status.
std::optional<std::string> read_spec_text(aws::S3& s3, const std::string& bucket, const std::string& job_id);

// Job ids in the bucket, newest first (ids sort by time within a project);
// empty when there is no bucket.
std::vector<std::string> list_job_ids(aws::S3& s3, const std::string& bucket);

// Seconds between two ISO 8601 UTC stamps ("2026-11-24T03:15:00Z" or with
// fractions); nullopt when either does not parse.
std::optional<std::chrono::seconds> seconds_between(const std::string& from, const std::string& to);

}  // namespace hoist::job
