#pragma once
// The account-level resources a job needs, ensured idempotently and safe
// against another hoist creating them at the same moment: the bucket, the
// project's ECR repository, and the per-region instance role and profile.
#include <memory>
#include <string>

#include "aws/client.hpp"

namespace hoist::job {

struct AccountFacts {
  std::string account_id;
  std::string caller_arn;
  std::string region;
  std::string partition;  // for ARNs: aws::partition_of(region).name
};

// The instance role's trust and permission policies (JSON): its bucket, the
// hoist/* repositories, terminating only itself, and its /hoist/ log groups.
std::string instance_trust_policy();
std::string instance_policy(const AccountFacts& account, const std::string& bucket);
// Extra per-job access to the user's own s3:// input and output locations.
std::string job_access_policy(const AccountFacts& account, const std::string& input_s3, const std::string& output_s3);
// What a person running hoist needs (printed by `hoist iam-policy`).
std::string user_policy(const AccountFacts& account);

struct EnsureResult {
  bool existed = false;    // nothing had to be created
  std::string detail;      // URI / ARN / name
  bool to_finish = false;  // there, but its settings are to be applied (again)
};

// Read-only probes (one request each, two at once for the bucket, for
// --dry-run and the first step of a run): is the resource there and
// complete? Nothing is created. The bucket is complete when its
// hoist:hardening tag says every setting of this hoist is on it; a bucket of
// that name that is not the account's is Fatal(Exit::bucket_taken).
EnsureResult probe_bucket(const std::shared_ptr<aws::Session>& session, const std::string& bucket);
EnsureResult probe_repository(const std::shared_ptr<aws::Session>& session, const std::string& repository);
EnsureResult probe_instance_profile(const std::shared_ptr<aws::Session>& session, const AccountFacts& account);

// Create what a probe found missing, without probing again. Every step
// tolerates "already exists", so another hoist creating the same resource at
// the same moment (or a half-made one left by an interrupted run) is fine.
// The bucket: made unless `exists` (the probe's answer), then hardened.
EnsureResult create_bucket(const std::shared_ptr<aws::Session>& session, const std::string& bucket,
                           bool exists = false);
EnsureResult create_repository(const std::shared_ptr<aws::Session>& session, const std::string& repository,
                               const std::string& project);
EnsureResult create_instance_profile(const std::shared_ptr<aws::Session>& session, const AccountFacts& account,
                                     const std::string& bucket);

}  // namespace hoist::job
