#include "job/naming.hpp"

#include <ctime>
#include <random>
#include <regex>

#include "aws/partition.hpp"
#include "aws/sigv4.hpp"
#include "util/text.hpp"

namespace hoist::job {

std::string iso8601(std::chrono::system_clock::time_point t) {
  return format_utc(t, "%Y-%m-%dT%H:%M:%SZ");
}

std::string new_job_id(const std::string& project, std::chrono::system_clock::time_point now) {
  const std::string stamp = format_utc(now, "%Y%m%d-%H%M%S");
  static constexpr std::string_view alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::random_device rd;
  std::uniform_int_distribution<std::size_t> pick(0, alphabet.size() - 1);
  std::string suffix;
  for (int i = 0; i < 4; ++i) suffix += alphabet[pick(rd)];
  return project + "-" + stamp + "-" + suffix;
}

bool valid_job_id(const std::string& id) {
  static const std::regex re("^[a-z][a-z0-9-]{0,39}-[0-9]{8}-[0-9]{6}-[a-z0-9]{4}$");
  return std::regex_match(id, re);
}

std::string bucket_name(const std::string& account_id, const std::string& region) {
  return "hoist-" + account_id + "-" + region;
}
std::string repository_name(const std::string& project) {
  return "hoist/" + project;
}
std::string legacy_role_name(const std::string& region) {
  return "hoist-instance-" + region;
}
std::optional<std::string> job_of_legacy_policy(const std::string& policy_name) {
  constexpr std::string_view kJobPolicyPrefix = "job-";
  if (!policy_name.starts_with(kJobPolicyPrefix)) return std::nullopt;
  return policy_name.substr(kJobPolicyPrefix.size());
}
std::string job_role_name(const std::string& job_id) {
  return job_id;
}
std::optional<std::string> job_of_role(const std::string& role_name) {
  if (!valid_job_id(role_name)) return std::nullopt;
  return role_name;
}

std::map<std::string, std::string> managed_tags() {
  return {{kManagedTag, "true"}};
}
std::map<std::string, std::string> job_tags(const std::string& job_id, const std::string& project) {
  return {{kManagedTag, "true"}, {kJobTag, job_id}, {kProjectTag, project}, {"Name", "hoist " + job_id}};
}

std::string console_url(const std::string& bucket, const std::string& region, const std::string& prefix) {
  const std::string_view host = aws::partition_of(region).console_host;
  if (host.empty()) return "s3://" + bucket + "/" + prefix;  // no console we know of (isolated regions)
  return "https://" + std::string(host) + "/s3/buckets/" + bucket + "?region=" + region +
         "&prefix=" + aws::sigv4::uri_encode(prefix, true) + "&showversions=false";
}

}  // namespace hoist::job
