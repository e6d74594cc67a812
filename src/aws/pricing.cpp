#include "aws/pricing.hpp"

#include <map>
#include <nlohmann/json.hpp>

#include "aws/protocols.hpp"

namespace hoist::aws {
namespace {

Service pricing_service() {
  // Signed for us-east-1 (the partition's global region), where the API is.
  return Service{"pricing", "pricing", Protocol::json, "AWSPriceListService", true};
}

nlohmann::json term_match(const char* field, const std::string& value) {
  return {{"Type", "TERM_MATCH"}, {"Field", field}, {"Value", value}};
}

// The member `key` of an object, when it is an object itself.
const nlohmann::json* object_at(const nlohmann::json& j, const char* key) {
  if (!j.is_object()) return nullptr;
  const auto it = j.find(key);
  return it != j.end() && it->is_object() ? &*it : nullptr;
}

}  // namespace

std::optional<OnDemandPrice> parse_price_entry(const std::string& entry) {
  const nlohmann::json doc = nlohmann::json::parse(entry, nullptr, false);
  const auto* product = object_at(doc, "product");
  const auto* attributes = product ? object_at(*product, "attributes") : nullptr;
  const auto* terms = object_at(doc, "terms");
  const auto* on_demand = terms ? object_at(*terms, "OnDemand") : nullptr;
  if (!attributes || !on_demand) return std::nullopt;
  OnDemandPrice out;
  out.instance_type = attributes->value("instanceType", "");
  if (out.instance_type.empty()) return std::nullopt;
  std::optional<double> lowest;
  // terms.OnDemand.<offer>.priceDimensions.<rate>.pricePerUnit.USD, per "Hrs".
  for (const auto& term : *on_demand) {
    const auto* dimensions = object_at(term, "priceDimensions");
    if (!dimensions) continue;
    for (const auto& d : *dimensions) {
      const auto* per_unit = object_at(d, "pricePerUnit");
      if (!per_unit || d.value("unit", "") != "Hrs") continue;
      try {
        const double v = std::stod(per_unit->value("USD", ""));
        if (v > 0 && (!lowest || v < *lowest)) lowest = v;
      } catch (const std::exception&) {
        continue;  // a price we cannot read is no price
      }
    }
  }
  if (!lowest) return std::nullopt;
  out.usd_per_hour = *lowest;
  return out;
}

Pricing::Pricing(std::shared_ptr<Session> session) : client_(std::move(session), pricing_service()) {}

std::vector<OnDemandPrice> Pricing::ec2_linux_on_demand(const std::string& region, const std::string& instance_type) {
  nlohmann::json filters =
      nlohmann::json::array({term_match("regionCode", region), term_match("operatingSystem", "Linux"),
                             term_match("tenancy", "Shared"), term_match("preInstalledSw", "NA"),
                             term_match("capacitystatus", "Used"), term_match("marketoption", "OnDemand")});
  if (!instance_type.empty()) filters.push_back(term_match("instanceType", instance_type));
  const nlohmann::json body = {
      {"ServiceCode", "AmazonEC2"}, {"FormatVersion", "aws_v1"}, {"Filters", filters}, {"MaxResults", 100}};
  std::map<std::string, double> lowest;
  json_paginate(client_, "GetProducts", body, "NextToken", [&](const nlohmann::json& page) {
    for (const auto& entry : page.value("PriceList", nlohmann::json::array())) {
      if (!entry.is_string()) continue;
      auto price = parse_price_entry(entry.get<std::string>());
      if (!price) continue;
      auto [it, added] = lowest.emplace(price->instance_type, price->usd_per_hour);
      if (!added && price->usd_per_hour < it->second) it->second = price->usd_per_hour;
    }
  });
  std::vector<OnDemandPrice> out;
  out.reserve(lowest.size());
  for (const auto& [type, usd] : lowest) out.push_back({type, usd});
  return out;
}

}  // namespace hoist::aws
