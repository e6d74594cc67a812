#include "aws/ec2.hpp"

#include <algorithm>
#include <chrono>
#include <ctime>
#include <stdexcept>

#include "aws/crypto.hpp"
#include "aws/error.hpp"
#include "aws/protocols.hpp"
#include "util/text.hpp"

namespace hoist::aws {
namespace {

Service ec2_service() {
  return Service{"ec2", "ec2", Protocol::query, "2016-11-15"};
}

// Direct child's text: EC2 repeats names at several depths (privateIpAddress
// sits under networkInterfaceSet too), so a descendant search could pick the
// wrong one.
std::string text(const pugi::xml_node& node, const char* name) {
  return node.child(name).child_value();
}

template <typename F>
void each_item(const pugi::xml_node& set, F&& f) {
  for (auto item : set.children("item")) f(item);
}

std::int64_t to_int(const std::string& s) {
  if (s.empty()) return 0;
  try {
    return std::stoll(s);
  } catch (const std::exception&) {
    return 0;
  }
}

void add_list(QueryParams& params, const std::string& prefix, const std::vector<std::string>& values) {
  for (std::size_t i = 0; i < values.size(); ++i) params.emplace_back(prefix + "." + std::to_string(i + 1), values[i]);
}

void add_filters(QueryParams& params, const Filters& filters) {
  for (std::size_t i = 0; i < filters.size(); ++i) {
    std::string p = "Filter." + std::to_string(i + 1);
    params.emplace_back(p + ".Name", filters[i].first);
    add_list(params, p + ".Value", filters[i].second);
  }
}

void add_tags(QueryParams& params, const std::string& prefix, const Tags& tags) {
  std::size_t n = 0;
  for (const auto& [key, value] : tags) {
    std::string p = prefix + "." + std::to_string(++n);
    params.emplace_back(p + ".Key", key);
    params.emplace_back(p + ".Value", value);
  }
}

Tags parse_tags(const pugi::xml_node& tag_set) {
  Tags tags;
  each_item(tag_set, [&](const pugi::xml_node& item) { tags[text(item, "key")] = text(item, "value"); });
  return tags;
}

Instance parse_instance(const pugi::xml_node& item) {
  Instance i;
  i.id = text(item, "instanceId");
  i.state = item.child("instanceState").child("name").child_value();
  i.instance_type = text(item, "instanceType");
  i.image_id = text(item, "imageId");
  i.launch_time = text(item, "launchTime");
  i.private_ip = text(item, "privateIpAddress");
  i.public_ip = text(item, "ipAddress");
  i.lifecycle = text(item, "instanceLifecycle");
  i.availability_zone = item.child("placement").child("availabilityZone").child_value();
  i.client_token = text(item, "clientToken");
  i.state_reason_code = item.child("stateReason").child("code").child_value();
  i.state_reason = item.child("stateReason").child("message").child_value();
  i.tags = parse_tags(item.child("tagSet"));
  return i;
}

InstanceTypeInfo parse_instance_type(const pugi::xml_node& item) {
  InstanceTypeInfo t;
  t.name = text(item, "instanceType");
  t.vcpus = static_cast<int>(to_int(item.child("vCpuInfo").child("defaultVCpus").child_value()));
  t.memory_mib = to_int(item.child("memoryInfo").child("sizeInMiB").child_value());
  auto gpu_info = item.child("gpuInfo");
  each_item(gpu_info.child("gpus"), [&](const pugi::xml_node& gpu) {
    t.gpus += static_cast<int>(to_int(text(gpu, "count")));
    if (t.gpu_name.empty()) {
      t.gpu_name = text(gpu, "name");
      t.gpu_manufacturer = text(gpu, "manufacturer");
    }
  });
  t.gpu_memory_mib = to_int(text(gpu_info, "totalGpuMemoryInMiB"));
  each_item(item.child("processorInfo").child("supportedArchitectures"),
            [&](const pugi::xml_node& a) { t.architectures.emplace_back(a.child_value()); });
  each_item(item.child("supportedUsageClasses"),
            [&](const pugi::xml_node& c) { t.spot_supported |= std::string(c.child_value()) == "spot"; });
  t.current_generation = text(item, "currentGeneration") == "true";
  return t;
}

std::string iso8601_now() {
  return format_utc(std::chrono::system_clock::now(), "%Y-%m-%dT%H:%M:%SZ");
}

}  // namespace

void RunArgs::validate() const {
  if (image_id.empty()) throw std::invalid_argument("RunInstances needs an image id");
  if (instance_type.empty()) throw std::invalid_argument("RunInstances needs an instance type");
  if (client_token.size() > 64) throw std::invalid_argument("client token longer than 64 characters");
  if (disk_gib < 0 || disk_gib > 16384) throw std::invalid_argument("disk size must be 1-16384 GiB");
  if (disk_gib > 0 && root_device_name.empty())
    throw std::invalid_argument("a disk size needs the image's root device name");
  // EC2 user guide: "limited to 16 KB, in raw form, before it is base64-encoded".
  if (user_data.size() > 16384) throw std::invalid_argument("user data over 16 KB (before base64)");
  if (tags.size() > 50) throw std::invalid_argument("more than 50 tags");
}

Ec2::Ec2(std::shared_ptr<Session> session) : client_(std::move(session), ec2_service()) {}

QueryParams RunArgs::launch_params() const {
  validate();
  QueryParams p{{"ImageId", image_id},
                {"InstanceType", instance_type},
                {"MinCount", "1"},
                {"MaxCount", "1"},
                {"InstanceInitiatedShutdownBehavior", "terminate"},
                {"MetadataOptions.HttpTokens", "required"},
                {"MetadataOptions.HttpEndpoint", "enabled"},
                // 1 hop: the agent on the host reaches IMDS, a container
                // behind Docker's bridge does not (its token never comes
                // back), so a job's script never holds the instance role.
                {"MetadataOptions.HttpPutResponseHopLimit", "1"}};
  if (!user_data.empty()) p.emplace_back("UserData", base64(user_data));
  if (!instance_profile.empty())
    p.emplace_back(instance_profile.starts_with("arn:") ? "IamInstanceProfile.Arn" : "IamInstanceProfile.Name",
                   instance_profile);
  if (!tags.empty()) {
    int n = 0;
    for (const char* type : {"instance", "volume"}) {
      std::string prefix = "TagSpecification." + std::to_string(++n);
      p.emplace_back(prefix + ".ResourceType", type);
      add_tags(p, prefix + ".Tag", tags);
    }
  }
  if (disk_gib > 0) {
    p.emplace_back("BlockDeviceMapping.1.DeviceName", root_device_name);
    p.emplace_back("BlockDeviceMapping.1.Ebs.VolumeSize", std::to_string(disk_gib));
    p.emplace_back("BlockDeviceMapping.1.Ebs.VolumeType", "gp3");
    p.emplace_back("BlockDeviceMapping.1.Ebs.DeleteOnTermination", "true");
  }
  if (!subnet_id.empty()) p.emplace_back("SubnetId", subnet_id);
  add_list(p, "SecurityGroupId", security_group_ids);
  return p;
}

Instance Ec2::run_instance(const RunArgs& args) {
  QueryParams p = args.launch_params();
  if (!args.client_token.empty()) p.emplace_back("ClientToken", args.client_token);
  if (args.spot) {
    p.emplace_back("InstanceMarketOptions.MarketType", "spot");
    p.emplace_back("InstanceMarketOptions.SpotOptions.SpotInstanceType", "one-time");
    p.emplace_back("InstanceMarketOptions.SpotOptions.InstanceInterruptionBehavior", "terminate");
  }
  if (!args.availability_zone.empty()) p.emplace_back("Placement.AvailabilityZone", args.availability_zone);

  auto doc = query_call(client_, "RunInstances", p);
  auto item = doc->document_element().child("instancesSet").child("item");
  if (!item) throw std::runtime_error("RunInstances returned no instance");
  return parse_instance(item);
}

std::vector<Instance> Ec2::describe_instances(const Filters& filters, const std::vector<std::string>& ids,
                                              int page_size) {
  QueryParams p;
  add_filters(p, filters);
  add_list(p, "InstanceId", ids);
  // EC2 refuses MaxResults together with instance ids.
  if (ids.empty()) p.emplace_back("MaxResults", std::to_string(std::clamp(page_size, 5, 1000)));
  std::vector<Instance> out;
  query_paginate(client_, "DescribeInstances", p, "NextToken", "nextToken", [&](const pugi::xml_document& doc) {
    each_item(doc.document_element().child("reservationSet"), [&](const pugi::xml_node& reservation) {
      each_item(reservation.child("instancesSet"),
                [&](const pugi::xml_node& item) { out.push_back(parse_instance(item)); });
    });
  });
  return out;
}

std::optional<Instance> Ec2::describe_instance(const std::string& id) {
  try {
    auto found = describe_instances({}, {id});
    if (found.empty()) return std::nullopt;
    return found.front();
  } catch (const AwsError& e) {
    if (e.is("InvalidInstanceID.NotFound")) return std::nullopt;
    throw;
  }
}

void Ec2::terminate_instances(const std::vector<std::string>& ids) {
  if (ids.empty()) return;
  QueryParams p;
  add_list(p, "InstanceId", ids);
  query_call(client_, "TerminateInstances", p);
}

std::string Ec2::describe_user_data(const std::string& instance_id) {
  auto doc = query_call(client_, "DescribeInstanceAttribute", {{"InstanceId", instance_id}, {"Attribute", "userData"}});
  return base64_decode(doc->document_element().child("userData").child("value").child_value());
}

std::vector<Image> Ec2::describe_images(const std::vector<std::string>& ids) {
  QueryParams p;
  add_list(p, "ImageId", ids);
  auto doc = query_call(client_, "DescribeImages", p);
  std::vector<Image> out;
  each_item(doc->document_element().child("imagesSet"), [&](const pugi::xml_node& item) {
    Image image{text(item, "imageId"), text(item, "name"), text(item, "architecture"), text(item, "rootDeviceName"),
                text(item, "imageState")};
    each_item(item.child("blockDeviceMapping"), [&](const pugi::xml_node& mapping) {
      if (text(mapping, "deviceName") == image.root_device_name)
        image.root_volume_gib = static_cast<int>(to_int(mapping.child("ebs").child("volumeSize").child_value()));
    });
    out.push_back(std::move(image));
  });
  return out;
}

std::vector<InstanceTypeInfo> Ec2::describe_instance_types(const std::vector<std::string>& types) {
  std::vector<InstanceTypeInfo> out;
  // At most 100 names per request.
  for (std::size_t start = 0; start < types.size(); start += 100) {
    QueryParams p;
    add_list(
        p, "InstanceType",
        std::vector<std::string>(types.begin() + static_cast<std::ptrdiff_t>(start),
                                 types.begin() + static_cast<std::ptrdiff_t>(std::min(types.size(), start + 100))));
    query_paginate(client_, "DescribeInstanceTypes", p, "NextToken", "nextToken", [&](const pugi::xml_document& doc) {
      each_item(doc.document_element().child("instanceTypeSet"),
                [&](const pugi::xml_node& item) { out.push_back(parse_instance_type(item)); });
    });
  }
  return out;
}

std::vector<InstanceTypeInfo> Ec2::list_instance_types(const Filters& filters) {
  QueryParams p;
  add_filters(p, filters);
  p.emplace_back("MaxResults", "100");
  std::vector<InstanceTypeInfo> out;
  query_paginate(client_, "DescribeInstanceTypes", p, "NextToken", "nextToken", [&](const pugi::xml_document& doc) {
    each_item(doc.document_element().child("instanceTypeSet"),
              [&](const pugi::xml_node& item) { out.push_back(parse_instance_type(item)); });
  });
  return out;
}

std::vector<SpotPrice> Ec2::describe_spot_price_history(const std::vector<std::string>& types,
                                                        const std::string& product) {
  QueryParams p;
  add_list(p, "InstanceType", types);
  p.emplace_back("ProductDescription.1", product);
  // StartTime = now: EC2 then returns only the price in effect now per zone.
  p.emplace_back("StartTime", iso8601_now());
  return spot_prices(p);
}

std::vector<SpotPrice> Ec2::spot_price_history(const std::string& type, const std::string& zone,
                                               const std::string& start, const std::string& end,
                                               const std::string& product) {
  QueryParams p{{"InstanceType.1", type}, {"ProductDescription.1", product}, {"StartTime", start}, {"EndTime", end}};
  if (!zone.empty()) p.emplace_back("AvailabilityZone", zone);
  return spot_prices(p);
}

std::vector<SpotPrice> Ec2::spot_prices(QueryParams p) {
  p.emplace_back("MaxResults", "1000");
  std::vector<SpotPrice> out;
  query_paginate(client_, "DescribeSpotPriceHistory", p, "NextToken", "nextToken", [&](const pugi::xml_document& doc) {
    each_item(doc.document_element().child("spotPriceHistorySet"), [&](const pugi::xml_node& item) {
      SpotPrice s;
      s.instance_type = text(item, "instanceType");
      s.availability_zone = text(item, "availabilityZone");
      try {
        s.price = std::stod(text(item, "spotPrice"));
      } catch (const std::exception&) {
        return;  // a price we cannot read is no price
      }
      s.timestamp = text(item, "timestamp");
      out.push_back(std::move(s));
    });
  });
  return out;
}

std::vector<std::string> Ec2::offered_instance_types(const std::vector<std::string>& types) {
  std::vector<std::string> out;
  if (types.empty()) return out;
  QueryParams p;
  p.emplace_back("LocationType", "region");
  add_filters(p, {{"instance-type", types}});
  p.emplace_back("MaxResults", "1000");
  query_paginate(client_, "DescribeInstanceTypeOfferings", p, "NextToken", "nextToken",
                 [&](const pugi::xml_document& doc) {
                   each_item(doc.document_element().child("instanceTypeOfferingSet"),
                             [&](const pugi::xml_node& item) { out.push_back(text(item, "instanceType")); });
                 });
  return out;
}

std::vector<std::pair<std::string, std::string>> Ec2::zone_offerings(const std::vector<std::string>& types) {
  QueryParams p;
  p.emplace_back("LocationType", "availability-zone");
  if (!types.empty()) add_filters(p, {{"instance-type", types}});
  p.emplace_back("MaxResults", "1000");
  std::vector<std::pair<std::string, std::string>> out;
  query_paginate(client_, "DescribeInstanceTypeOfferings", p, "NextToken", "nextToken",
                 [&](const pugi::xml_document& doc) {
                   each_item(doc.document_element().child("instanceTypeOfferingSet"), [&](const pugi::xml_node& item) {
                     out.emplace_back(text(item, "instanceType"), text(item, "location"));
                   });
                 });
  return out;
}

void Ec2::create_tags(const std::vector<std::string>& resource_ids, const Tags& tags) {
  if (resource_ids.empty() || tags.empty()) return;
  QueryParams p;
  add_list(p, "ResourceId", resource_ids);
  add_tags(p, "Tag", tags);
  query_call(client_, "CreateTags", p);
}

}  // namespace hoist::aws
