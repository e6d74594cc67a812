#pragma once
// Starts a job's instance: the AMI for its architecture, the agent bundle in
// the bucket, the loader that fetches it as user data, and RunInstances with
// the job's id as the idempotency token.
#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "aws/client.hpp"
#include "aws/error.hpp"
#include "aws/s3.hpp"
#include "job/spec.hpp"

namespace hoist::job {

class Reporter;

// The SSM public parameter naming the AMI for this architecture/GPU need.
std::string ami_parameter(const std::string& arch, bool gpu);
struct MachineImage {
  std::string id;
  std::string root_device = "/dev/xvda";
  int root_gib = 0;  // the smallest root disk EC2 accepts for it (0: unknown)
};
// Reads the parameter, then the image's root device and size (the GPU
// images' root snapshots are far larger than a CPU job's default disk).
// Fatal(Exit::launch_failed) when the region lacks either. With `chosen`
// (the user's --image) that image instead: Fatal(Exit::not_found) when the
// region has no such image, Fatal(Exit::bad_option) when it is not available
// or is for another architecture than `arch`.
MachineImage find_image(const std::shared_ptr<aws::Session>& session, const std::string& arch, bool gpu,
                        const std::string& chosen = "");

// The instance agent embedded in this build: agent/build_bundle.py's
// zipapp of agent/hoist_agent and agent/bootstrap.sh, stored in the job's
// bucket as a content-addressed blob that the user data fetches by hash.
struct AgentBundle {
  std::string_view bytes;
  std::string sha256;                     // hex
  [[nodiscard]] std::string key() const;  // blobs/sha256/<sha256>
};
const AgentBundle& agent_bundle();

// Makes sure the bucket holds the agent bundle before an instance asks for
// it: a HEAD, and a PUT when it is missing (or has another size). A bucket
// this run has just created holds nothing yet (`bucket_new`): no HEAD then.
// Returns whether it was uploaded.
bool ensure_agent_bundle(aws::S3& s3, const std::string& bucket, bool bucket_new);

// What agent/loader.sh needs to find the agent and report on it.
struct LoaderValues {
  std::string bucket;
  std::string job_id;
  std::string region;
  std::string account;  // the bucket's owner (x-amz-expected-bucket-owner)
  // When the instance powers itself off if bootstrap.sh's watchdog, armed
  // once job.json is read, has not taken over: the job's own limit and
  // kFallbackGrace (launch_instance), never a fixed hour.
  std::chrono::seconds max_runtime{0};
};
// What the loader's fallback power-off adds to --max-runtime: the time
// bootstrap.sh's watchdog gives the agent, after the limit, to stop the
// script and upload (HOIST_WATCHDOG_GRACE).
inline constexpr std::chrono::seconds kFallbackGrace{120};
// The user data: agent/loader.sh with every @NAME@ placeholder replaced by
// its single-quoted value (S3_ENDPOINT: the region's own S3 endpoint in its
// partition; AGENT_SHA256: agent_bundle()'s; MAX_RUNTIME: max_runtime in
// seconds). At most 4 KiB for any names B1 allows and any --max-runtime (7
// days at most). Throws std::invalid_argument for a value with a quote in it
// (B1 names never have one) or a max_runtime that is not positive, and
// std::runtime_error for a placeholder it does not know.
std::string user_data(const LoaderValues& values);

struct Launched {
  std::string instance_id;
  std::string launch_time;
  std::string zone;  // its availability zone, when EC2 says
};

// Whether RunInstances failed only because of the availability zone asked
// for (no capacity, the type not offered there, no default subnet there):
// another zone may do.
bool zone_unusable(const aws::AwsError& error);

// The zones EC2 names when it does not offer a type in the zone it was asked
// for (or chose itself): "Your requested instance type (g5.xlarge) is not
// supported in your requested Availability Zone (us-east-1e). Please retry
// your request by not specifying an Availability Zone or choosing us-east-1a,
// us-east-1b." gives {us-east-1a, us-east-1b}; empty for any other error.
std::vector<std::string> zones_suggested(const aws::AwsError& error);

// Whether RunInstances failed only because EC2 cannot see a just-created
// instance profile yet. EC2 says "Value (NAME) for parameter
// iamInstanceProfile.name is invalid. Invalid IAM Instance Profile name" (or
// ".arn ... ARN"); it is InvalidParameterValue like many permanent mistakes.
bool instance_profile_not_visible_yet(const aws::AwsError& error);

// What a spot job's instance needs to launch its successor (job.json's
// "launch"): RunInstances' parameters as launch_instance sends them but for
// those of one attempt (aws::RunArgs::launch_params), and the zones to try,
// spot's cheapest first.
nlohmann::json successor_launch(const Job& job, const MachineImage& image, const std::string& instance_profile);

// RunInstances, retried with back-off for up to ~2 minutes while a new
// instance profile is still propagating through IAM. A spot plan with zones
// is placed in the cheapest first, then the next when one cannot take it,
// and last wherever EC2 chooses. When EC2 answers that a zone does not offer
// the type, the zones it names come next (once, spot or on-demand). Each
// attempt has its own idempotency token: a refused request launched nothing.
// The reporter hears of each zone given up on.
Launched launch_instance(const std::shared_ptr<aws::Session>& session, const Job& job, const MachineImage& image,
                         const std::string& instance_profile, Reporter& reporter);

}  // namespace hoist::job
