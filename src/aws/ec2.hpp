#pragma once
// EC2 (the "ec2" flavour of the query protocol: lists as Name.N, XML items):
// launching, finding and ending hoist's instances, and the image, instance
// type and spot price facts the planner needs.
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "aws/client.hpp"

namespace hoist::aws {

using Tags = std::map<std::string, std::string>;
using QueryParams = std::vector<std::pair<std::string, std::string>>;  // as protocols.hpp
// EC2 filters: {"tag:hoist:job", {"x"}}, {"instance-state-name", {"pending", "running"}}.
using Filters = std::vector<std::pair<std::string, std::vector<std::string>>>;

struct RunArgs {
  std::string image_id;
  std::string instance_type;
  std::string instance_profile;   // a name, or an ARN (starts with "arn:")
  std::string user_data;          // raw bytes (a script, or gzip); base64-encoded here
  std::string client_token;       // idempotency token, at most 64 ASCII chars
  Tags tags;                      // applied to the instance and its volumes
  bool spot = false;              // one-time spot, terminated on interruption
  int disk_gib = 0;               // root volume size (gp3); 0 keeps the AMI's
  std::string root_device_name;   // the AMI's, e.g. "/dev/xvda"; needed with disk_gib
  std::string subnet_id;          // optional: default VPC otherwise
  std::string availability_zone;  // optional: EC2 picks one otherwise
  std::vector<std::string> security_group_ids;

  // Refuses what EC2 would refuse, before anything is sent (std::invalid_argument).
  void validate() const;
  // RunInstances' parameters but for those of one attempt (ClientToken,
  // Placement.AvailabilityZone, InstanceMarketOptions.*): what a spot job's
  // instance replays to launch its successor (agent/hoist_agent/successor.py
  // adds the rest as run_instance does). Validates first.
  [[nodiscard]] QueryParams launch_params() const;
};

struct Instance {
  std::string id;
  std::string state;  // pending, running, shutting-down, terminated, stopping, stopped
  std::string instance_type;
  std::string image_id;
  std::string launch_time;  // ISO 8601, as EC2 gives it
  std::string private_ip;
  std::string public_ip;
  std::string lifecycle;  // "spot", or "" for on-demand
  std::string availability_zone;
  std::string client_token;
  // Why the state last changed, e.g. code "Server.SpotInstanceTermination"
  // and its message; empty when EC2 gives none.
  std::string state_reason_code;
  std::string state_reason;
  Tags tags;
};

struct Image {
  std::string id;
  std::string name;
  std::string architecture;  // "x86_64", "arm64"
  std::string root_device_name;
  std::string state;
  // The root device's snapshot size: EC2 refuses a smaller root disk
  // ("Volume of size 30GB is smaller than snapshot ..."). 0 when not given.
  int root_volume_gib = 0;
};

struct InstanceTypeInfo {
  std::string name;
  int vcpus = 0;
  std::int64_t memory_mib = 0;
  int gpus = 0;
  std::string gpu_name;             // "T4", "A10G"; "" without GPUs
  std::string gpu_manufacturer;     // "NVIDIA", "AMD"
  std::int64_t gpu_memory_mib = 0;  // total over all GPUs
  std::vector<std::string> architectures;
  bool spot_supported = false;
  bool current_generation = false;
};

struct SpotPrice {
  std::string instance_type;
  std::string availability_zone;
  double price = 0;  // USD per hour
  std::string timestamp;
};

class Ec2 {
 public:
  explicit Ec2(std::shared_ptr<Session> session);

  // RunInstances for one instance: IMDSv2 required (hop limit 2 so containers
  // reach it), instance-initiated shutdown terminates, tags on instance and
  // volumes. The same client_token returns the same instance on AWS.
  Instance run_instance(const RunArgs& args);

  // All matching instances, following pagination (page_size 5-1000, used
  // only without ids). Unknown ids fail with InvalidInstanceID.NotFound.
  std::vector<Instance> describe_instances(const Filters& filters = {}, const std::vector<std::string>& ids = {},
                                           int page_size = 1000);
  std::optional<Instance> describe_instance(const std::string& id);

  void terminate_instances(const std::vector<std::string>& ids);

  // The user data as EC2 holds it, decoded to the bytes that were sent.
  std::string describe_user_data(const std::string& instance_id);

  std::vector<Image> describe_images(const std::vector<std::string>& ids);

  // Facts for the named types (unknown names fail with InvalidInstanceType).
  std::vector<InstanceTypeInfo> describe_instance_types(const std::vector<std::string>& types);
  // Every type matching the filters, e.g. {"processor-info.supported-architecture", {"x86_64"}}.
  std::vector<InstanceTypeInfo> list_instance_types(const Filters& filters = {});

  // Which of `types` the session's region offers (DescribeInstanceTypeOfferings
  // by region, filtered to those names: one request for up to 1000 types).
  std::vector<std::string> offered_instance_types(const std::vector<std::string>& types);

  // Every (type, zone) the region offers (DescribeInstanceTypeOfferings by
  // availability zone, all pages), optionally only for `types`.
  std::vector<std::pair<std::string, std::string>> zone_offerings(const std::vector<std::string>& types = {});

  // The current spot price per type and availability zone (StartTime = now).
  std::vector<SpotPrice> describe_spot_price_history(const std::vector<std::string>& types,
                                                     const std::string& product = "Linux/UNIX");
  // The spot prices of one type in one zone that applied from `start` to
  // `end` (ISO 8601): EC2 also returns the price in effect at `start`.
  std::vector<SpotPrice> spot_price_history(const std::string& type, const std::string& zone, const std::string& start,
                                            const std::string& end, const std::string& product = "Linux/UNIX");

  void create_tags(const std::vector<std::string>& resource_ids, const Tags& tags);

  Client& client() { return client_; }

 private:
  std::vector<SpotPrice> spot_prices(std::vector<std::pair<std::string, std::string>> params);
  Client client_;
};

}  // namespace hoist::aws
