#pragma once
// Starts a job's instance: the AMI for its architecture, the bootstrap as
// user data, and RunInstances with the job's id as the idempotency token.
#include <memory>
#include <string>

#include "aws/client.hpp"
#include "aws/error.hpp"
#include "job/spec.hpp"

namespace hoist::job {

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

// The user data: the job's coordinates, then bootstrap.sh with agent.py
// inlined, gzip-compressed when it would exceed EC2's 16 KiB limit.
std::string user_data(const std::string& bucket, const std::string& job_id, const std::string& region);
std::string gzip(const std::string& data);

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

// RunInstances, retried with back-off for up to ~2 minutes while a new
// instance profile is still propagating through IAM. A spot plan with zones
// is placed in the cheapest first, then the next when one cannot take it,
// and last wherever EC2 chooses. When EC2 answers that a zone does not offer
// the type, the zones it names come next (once, spot or on-demand). Each
// attempt has its own idempotency token: a refused request launched nothing.
Launched launch_instance(const std::shared_ptr<aws::Session>& session, const Job& job, const MachineImage& image,
                         const std::string& instance_profile);

}  // namespace hoist::job
