#pragma once
// The account-level resources a job needs, ensured idempotently and safe
// against another hoist creating them at the same moment (the bucket, the
// project's ECR repository, the job boundary), and each job's own role.
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "aws/client.hpp"

namespace hoist::job {

class Reporter;

struct AccountFacts {
  std::string account_id;
  std::string caller_arn;
  std::string region;
  std::string partition;  // for ARNs: aws::partition_of(region).name
  std::string bucket;     // hoist's bucket when chosen (--bucket); "" for hoist-<account>-<region>
};

// Every job has a role of its own, created for it and deleted when it ends:
// it can write only under its own jobs/<id>/, read only its own record and
// the blobs its manifest names, and push only to its project's repository.
// Every job role is created with the account's boundary policy (made once,
// by `hoist setup` or a first run with the right to), so that the holder of
// user_policy, who may write job roles, can never give one more than the
// boundary allows: no IAM, S3 objects and hoist's ECR repositories, and of
// EC2 only the launch of an instance of the role's own job, with the role's
// own profile (a spot job's successor: SuccessorScope).
//
// A spot job that may be relaunched (--spot-retries, --spot-fallback): its
// instance launches the next attempt. Its role may then run an instance of
// this type, from this image, tagged as this job, with this job's own
// profile, and pass only its own role: what the laptop launched, and no more.
struct SuccessorScope {
  std::string region;
  std::string instance_type;
  std::string image_id;
};
struct JobScope {
  std::string bucket;
  std::string job_id;
  std::string repository;          // hoist/<project>
  std::vector<std::string> blobs;  // sha256 of each blob the job reads (manifest, agent)
  std::string input_s3;            // an s3:// INPUT, read in place ("" when staged)
  std::string output_s3;           // where the outputs go (s3://...)
  std::optional<SuccessorScope> successor;
  std::string notify_topic;  // --notify e-mail: the topic it may publish to ("" none)
  bool sessions = false;     // --keep-instance: it may register with SSM Session Manager
  std::string keep;          // [keep] role: "" (removed with its job), "down" or "keep" (its hoist:keep tag)
};
std::string instance_trust_policy();
// The job role's inline policy (JSON, compact). Blobs are named one by one
// while that fits IAM's 10,240 characters; past that the role may read any
// blob whose hash it knows (it may list none, nor read other jobs' records).
std::string job_role_policy(const AccountFacts& account, const JobScope& scope);
inline constexpr std::size_t kInlinePolicyLimit = 10240;  // IAM: a role's inline policies, whitespace aside

// The boundary: what any job role may do at most. Its S3 data statement
// names the buckets jobs may read and write besides hoist's own; "*" (the
// default) is any bucket.
std::string boundary_arn(const AccountFacts& account);
std::string boundary_policy(const AccountFacts& account, const std::vector<std::string>& data_buckets);
// The data buckets a boundary document allows ("*" for any).
std::vector<std::string> boundary_data_buckets(const std::string& policy_json);
// Whether a boundary document has the statement of this Sid.
bool boundary_has(const std::string& policy_json, const std::string& sid);
// The Sids a job's features need in the boundary: a successor's launch, a
// notification, a session.
inline constexpr const char* kSuccessorSid = "SuccessorInstance";
inline constexpr const char* kNotifySid = "Notify";
inline constexpr const char* kSessionsSid = "SessionManager";
inline bool boundary_allows_successor(const std::string& policy_json) {
  return boundary_has(policy_json, kSuccessorSid);
}
// Whether that list lets a job reach `bucket`.
bool data_bucket_allowed(const std::vector<std::string>& allowed, const std::string& bucket);

// The ARN of the notification topic (kNotifyTopic) in the account's region.
std::string notify_topic_arn(const AccountFacts& account);

// What a person running hoist needs (printed by `hoist iam-policy`).
std::string user_policy(const AccountFacts& account);

inline constexpr int kDefaultImagesKept = 10;

struct EnsureResult {
  bool existed = false;    // nothing had to be created
  std::string detail;      // URI / ARN / name
  bool to_finish = false;  // there, but its settings are to be applied (again)
  std::string note{};      // why, when it is not plain (said under -v)
};

// Read-only probes (one request each, two at once for the bucket, for
// --dry-run and the first step of a run): is the resource there and
// complete? Nothing is created. The bucket is complete when its
// hoist:hardening tag says every setting of this hoist is on it; a bucket of
// that name that is not the account's is Fatal(Exit::bucket_taken).
// `jobs_retention_days` (hoist.toml [keep] jobs_retention; 0: none) is on a
// complete bucket as its hoist:jobs-retention tag, `images_kept` on a
// complete repository as its lifecycle policy (asked with the repository,
// at once): another value makes the resource one to finish.
EnsureResult probe_bucket(const std::shared_ptr<aws::Session>& session, const std::string& bucket,
                          int jobs_retention_days = 0);
EnsureResult probe_repository(const std::shared_ptr<aws::Session>& session, const std::string& repository,
                              int images_kept = kDefaultImagesKept);
// The boundary: whether it exists and, when asked (a second round trip,
// needed only for a job that reaches other buckets), the data buckets it
// allows.
struct BoundaryState {
  bool exists = false;
  std::vector<std::string> data_buckets;
  // The Sids of its statements (read with the data buckets): boundaries made
  // before --spot-retries, --notify or --keep-instance lack theirs.
  std::vector<std::string> sids;
  [[nodiscard]] bool has(const std::string& sid) const;
};
// Puts the current boundary (keeping `data_buckets`) where the account's
// lacks what `feature` (an option, "--spot-retries") needs;
// Fatal(Exit::not_set_up) when the caller may not.
void update_boundary(const std::shared_ptr<aws::Session>& session, const AccountFacts& account,
                     const std::vector<std::string>& data_buckets, const std::string& feature, Reporter& reporter);
BoundaryState probe_boundary(const std::shared_ptr<aws::Session>& session, const AccountFacts& account,
                             bool read_data_buckets);

// Create what a probe found missing, without probing again. Every step
// tolerates "already exists", so another hoist creating the same resource at
// the same moment (or a half-made one left by an interrupted run) is fine.
// The bucket: made unless `exists` (the probe's answer), then hardened.
// Its lifecycle configuration: incomplete uploads end after a day, and with
// `jobs_retention_days` every object under jobs/ expires that long after it
// was written (the rule hoist-jobs-retention).
EnsureResult create_bucket(const std::shared_ptr<aws::Session>& session, const std::string& bucket, bool exists = false,
                           int jobs_retention_days = 0);
// Its lifecycle policy keeps the newest `images_kept` images.
EnsureResult create_repository(const std::shared_ptr<aws::Session>& session, const std::string& repository,
                               const std::string& project, int images_kept = kDefaultImagesKept);
// A managed policy under /hoist/: its ARN; created, or given this document
// (a new default version, the oldest dropped past IAM's five). True when it
// changed.
std::string managed_policy_arn(const AccountFacts& account, const std::string& name);
bool put_managed_policy(const std::shared_ptr<aws::Session>& session, const AccountFacts& account,
                        const std::string& name, const std::string& policy_json, const std::string& description);
// Creates the boundary, or gives an existing one this document (a new
// default version, the oldest dropped past IAM's five). True when it changed.
bool put_boundary(const std::shared_ptr<aws::Session>& session, const AccountFacts& account,
                  const std::vector<std::string>& data_buckets);

// Before a run: creates the boundary (any data bucket) when it is missing.
// Refused for lack of permission, it stops the run (exit 18) saying that an
// administrator runs `hoist setup` once.
void ensure_boundary(const std::shared_ptr<aws::Session>& session, const AccountFacts& account, Reporter& reporter);
// Stops the run (exit 5) for an s3:// location ("" is none) that the
// boundary keeps jobs from, before anything is created.
void check_boundary_allows(const BoundaryState& boundary, const std::vector<std::string>& locations);

// The job's role and instance profile (two round trips). Returns the
// profile's name, for RunInstances.
std::string create_job_role(const std::shared_ptr<aws::Session>& session, const AccountFacts& account,
                            const JobScope& scope);
// Removes them; whatever is already gone is fine. True when a role was there.
bool delete_job_role(const std::shared_ptr<aws::Session>& session, const std::string& job_id);
// Its hoist:keep tag: how long hoist.toml's [keep] role keeps a job role
// past its job ("down", "keep"; nullopt: it goes with the job).
std::optional<std::string> role_kept_until(const std::map<std::string, std::string>& tags);
// What to say of a role kept past its job, and how it goes.
std::string kept_role_note(const std::string& job_id, const std::string& until);

}  // namespace hoist::job
