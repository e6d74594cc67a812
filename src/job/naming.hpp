#pragma once
// Names and tags from DESIGN.md B1.
#include <chrono>
#include <map>
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
inline constexpr const char* kIamPath = "/hoist/";

std::map<std::string, std::string> managed_tags();
std::map<std::string, std::string> job_tags(const std::string& job_id, const std::string& project);

std::string job_prefix(const std::string& job_id);  // "jobs/<id>/"
std::string console_url(const std::string& bucket, const std::string& region, const std::string& prefix);
std::string iso8601(std::chrono::system_clock::time_point t);

}  // namespace hoist::job
