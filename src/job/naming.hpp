#pragma once
// Names and tags from DESIGN.md B1.
#include <chrono>
#include <map>
#include <optional>
#include <string>

namespace hoist::job {

inline constexpr const char* kManagedTag = "hoist:managed";
inline constexpr const char* kJobTag = "hoist:job";
// The SNS topic jobs tell their end to (--notify with an e-mail address).
inline constexpr const char* kNotifyTopic = "hoist-notifications";
inline constexpr const char* kProjectTag = "hoist:project";
// On a job role hoist.toml's [keep] keeps past its job: "down" or "keep".
inline constexpr const char* kKeepTag = "hoist:keep";

// <project>-<yyyymmdd>-<hhmmss>-<4 chars [a-z0-9]>, in UTC.
std::string new_job_id(const std::string& project, std::chrono::system_clock::time_point now);
// True when `id` has the job id's shape.
bool valid_job_id(const std::string& id);
std::string bucket_name(const std::string& account_id, const std::string& region);
std::string repository_name(const std::string& project);
// The per-region instance role and profile that hoist made before each job
// had its own; only `hoist gc` and `down` still look for it, to remove it.
std::string legacy_role_name(const std::string& region);
// That role's inline policies that granted one job its s3:// INPUT and
// OUTPUT: "job-<id>".
std::optional<std::string> job_of_legacy_policy(const std::string& policy_name);
inline constexpr const char* kIamPath = "/hoist/";

// Each job's own role and instance profile: named as the job (at most 61
// characters, inside IAM's 64), under this path.
inline constexpr const char* kJobRolePath = "/hoist/jobs/";
std::string job_role_name(const std::string& job_id);
// The job a role under kJobRolePath was made for; nullopt for other names.
std::optional<std::string> job_of_role(const std::string& role_name);
// The managed policy every job role is created with as its permissions
// boundary: the most any job role can ever do (see account.hpp).
inline constexpr const char* kBoundaryName = "hoist-job-boundary";

std::map<std::string, std::string> managed_tags();
std::map<std::string, std::string> job_tags(const std::string& job_id, const std::string& project);

std::string console_url(const std::string& bucket, const std::string& region, const std::string& prefix);
std::string iso8601(std::chrono::system_clock::time_point t);

}  // namespace hoist::job
