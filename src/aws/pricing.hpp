#pragma once
// The AWS Price List Query API ("pricing", JSON 1.1, served from us-east-1
// whatever the region priced): EC2's on-demand Linux prices per instance type.
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "aws/client.hpp"

namespace hoist::aws {

struct OnDemandPrice {
  std::string instance_type;
  double usd_per_hour = 0;
};

// One PriceList entry (a JSON document in a string, as GetProducts returns
// it): the instance type and its hourly USD on-demand price; nullopt for an
// entry without both.
std::optional<OnDemandPrice> parse_price_entry(const std::string& entry);

class Pricing {
 public:
  explicit Pricing(std::shared_ptr<Session> session);

  // GetProducts for AmazonEC2 in `region` (its code, e.g. eu-west-1): Linux,
  // shared tenancy, no pre-installed software, used capacity, on-demand;
  // every type (all pages), or only `instance_type` when given.
  std::vector<OnDemandPrice> ec2_linux_on_demand(const std::string& region, const std::string& instance_type = "");

 private:
  Client client_;
};

}  // namespace hoist::aws
