#include "aws/partition.hpp"

#include <algorithm>
#include <array>

namespace hoist::aws {
namespace {

struct Entry {
  std::string_view region_prefix;
  Partition partition;
};

// Longer prefixes first: "us-isob-" before "us-iso-", both before "us-".
constexpr std::array<Entry, 5> kPartitions = {{
    {"us-isob-", {"aws-iso-b", "sc2s.sgov.gov", "iam.us-isob-east-1.sc2s.sgov.gov", "us-isob-east-1", ""}},
    {"us-iso-", {"aws-iso", "c2s.ic.gov", "iam.us-iso-east-1.c2s.ic.gov", "us-iso-east-1", ""}},
    {"us-gov-",
     {"aws-us-gov", "amazonaws.com", "iam.us-gov.amazonaws.com", "us-gov-west-1", "console.amazonaws-us-gov.com"}},
    {"cn-", {"aws-cn", "amazonaws.com.cn", "iam.cn-north-1.amazonaws.com.cn", "cn-north-1", "console.amazonaws.cn"}},
    {"", {"aws", "amazonaws.com", "iam.amazonaws.com", "us-east-1", "s3.console.aws.amazon.com"}},
}};

}  // namespace

const Partition& partition_of(std::string_view region) {
  for (const Entry& e : kPartitions)
    if (region.starts_with(e.region_prefix)) return e.partition;
  return kPartitions.back().partition;  // unreachable: "" prefixes everything
}

std::string s3_endpoint(std::string_view region) {
  return "https://s3." + std::string(region) + "." + std::string(partition_of(region).dns_suffix);
}

bool is_aws_host(std::string_view host) {
  return std::ranges::any_of(kPartitions, [&](const Entry& e) {
    const std::string_view suffix = e.partition.dns_suffix;
    return host.size() > suffix.size() && host.ends_with(suffix) && host[host.size() - suffix.size() - 1] == '.';
  });
}

}  // namespace hoist::aws
