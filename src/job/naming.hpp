#pragma once
// Names and tags from DESIGN.md B1.
#include <chrono>
#include <map>
#include <optional>
#include <string>

namespace hoist::job {

inline constexpr const char* kManagedTag = "hoist:managed";
inline constexpr const char* kJobTag = "hoist:job";
inline constexpr const char* kProjectTag = "hoist:project";

// <project>-<yyyymmdd>-<hhmmss>-<4 chars [a-z0-9]>, in UTC.
std::string new_job_id(const std::string& project, std::chrono::system_clock::time_point now);
// True when `id` has the job id's shape.
bool valid_job_id(const std::string& id);
std::string bucket_name(const std::string& account_id, const std::string& region);
std::string repository_name(const std::string& project);
// The per-region instance role and profile (IAM names are global).
std::string role_name(const std::string& region);
// The role's inline policy that grants one job its s3:// INPUT and OUTPUT in
// other buckets: "job-<id>".
std::string job_policy_name(const std::string& job_id);
// The job a policy of the role was made for; nullopt for its other policies.
std::optional<std::string> job_of_policy(const std::string& policy_name);
inline constexpr const char* kIamPath = "/hoist/";

std::map<std::string, std::string> managed_tags();
std::map<std::string, std::string> job_tags(const std::string& job_id, const std::string& project);

std::string job_prefix(const std::string& job_id);  // "jobs/<id>/"
std::string console_url(const std::string& bucket, const std::string& region, const std::string& prefix);
std::string iso8601(std::chrono::system_clock::time_point t);

}  // namespace hoist::job
