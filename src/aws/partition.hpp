#pragma once
// AWS partitions: what differs between the commercial regions, China and
// GovCloud (and the isolated regions) for the names hoist builds itself.
// Values from botocore's data/endpoints.json.
#include <string>
#include <string_view>

namespace hoist::aws {

struct Partition {
  std::string_view name;          // in ARNs: aws, aws-cn, aws-us-gov, ...
  std::string_view dns_suffix;    // amazonaws.com, amazonaws.com.cn, ...
  std::string_view iam_host;      // IAM's one endpoint for the partition
  std::string_view iam_region;    // ...and the region its requests are signed for
  std::string_view console_host;  // the web console ("" where there is none we know)
};

// The partition of a region name; the commercial one for anything unknown.
const Partition& partition_of(std::string_view region);

// S3's regional endpoint in the region's partition:
// https://s3.us-east-1.amazonaws.com, https://s3.cn-north-1.amazonaws.com.cn.
std::string s3_endpoint(std::string_view region);

// Whether an https host is one of AWS's own service endpoints (any partition).
bool is_aws_host(std::string_view host);

}  // namespace hoist::aws
