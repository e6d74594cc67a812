#include "job/quota.hpp"

#include <cctype>
#include <regex>

#include "aws/error.hpp"
#include "util/error.hpp"

namespace hoist::job {
namespace {

// "g4dn.xlarge" -> "g", "inf2.xlarge" -> "inf", "u-6tb1.56xlarge" -> "u".
std::string family_letters(const std::string& type) {
  std::string out;
  for (char c : type) {
    if (std::isalpha(static_cast<unsigned char>(c)) == 0) break;
    out += c;
  }
  return out;
}

}  // namespace

Quota quota_for(const std::string& type, bool spot) {
  const std::string f = family_letters(type);
  // EC2's vCPU quotas by family (EC2 user guide, "On-Demand Instance quotas"
  // and "Spot Instance quotas"). The codes hoist names are those it knows
  // for certain; for the others it names the quota only.
  if (f == "g" || f == "vt")
    return spot ? Quota{"All G and VT Spot Instance Requests", "L-3819A6DF"}
                : Quota{"Running On-Demand G and VT instances", "L-DB2E81BA"};
  if (f == "p")
    return spot ? Quota{"All P Spot Instance Requests", "L-7212CCBC"}
                : Quota{"Running On-Demand P instances", "L-417A185B"};
  if (f == "x") return {spot ? "All X Spot Instance Requests" : "Running On-Demand X instances", ""};
  if (f == "f") return {spot ? "All F Spot Instance Requests" : "Running On-Demand F instances", ""};
  if (f == "inf") return {spot ? "All Inf Spot Instance Requests" : "Running On-Demand Inf instances", ""};
  if (f == "trn") return {spot ? "All Trn Spot Instance Requests" : "Running On-Demand Trn instances", ""};
  if (f == "dl") return {spot ? "All DL Spot Instance Requests" : "Running On-Demand DL instances", ""};
  if (f == "u") return {"Running On-Demand High Memory instances", ""};
  return spot ? Quota{"All Standard (A, C, D, H, I, M, R, T, Z) Spot Instance Requests", "L-34B43A08"}
              : Quota{"Running On-Demand Standard (A, C, D, H, I, M, R, T, Z) instances", "L-1216C47A"};
}

std::optional<std::string> quota_message(const aws::AwsError& e, const InstancePlan& plan, const std::string& region) {
  if (!e.is("VcpuLimitExceeded") && !e.is("InstanceLimitExceeded") && !e.is("MaxSpotInstanceCountExceeded"))
    return std::nullopt;
  const Quota q = quota_for(plan.type.name, plan.spot);
  const std::string vcpus = plan.type.vcpus > 0 ? std::to_string(plan.type.vcpus) + " vCPUs" : "its vCPUs";
  // "... than your current vCPU limit of 32 allows ...": the limit, when EC2 says it.
  static const std::regex limit_of("limit of ([0-9]+)");
  std::smatch m;
  std::string limit = "its current limit: `aws service-quotas get-service-quota --region " + region +
                      " --service-code ec2 --quota-code " + (q.code.empty() ? "CODE" : q.code) + "`";
  std::string desired = "N";
  if (std::regex_search(e.aws_message, m, limit_of)) {
    limit = "the limit is " + m[1].str() + " vCPUs, those running included";
    if (plan.type.vcpus > 0) desired = std::to_string(std::stoll(m[1].str()) + plan.type.vcpus);
  }
  const std::string ask =
      q.code.empty()
          ? "ask for more in the Service Quotas console (Amazon EC2, \"" + q.name + "\", region " + region + ")"
          : "ask for more with `aws service-quotas request-service-quota-increase --region " + region +
                " --service-code ec2 --quota-code " + q.code + " --desired-value " + desired +
                "` (or the Service Quotas console)";
  return "the account's EC2 quota \"" + q.name + "\"" + (q.code.empty() ? "" : " (" + q.code + ")") + " in " + region +
         " has no room for a " + plan.type.name + (plan.spot ? " spot instance" : "") + ", which needs " + vcpus +
         " (" + e.code + "; " + limit + "): " + ask + ", end other instances, or pick a smaller type" +
         (plan.spot ? " or on-demand" : "");
}

void raise_if_quota(const std::exception_ptr& failure, const InstancePlan& plan, const std::string& region) {
  try {
    std::rethrow_exception(failure);
  } catch (const aws::AwsError& e) {
    if (auto message = quota_message(e, plan, region)) throw Fatal(Exit::quota, *message);
  } catch (...) {
    return;
  }
}

}  // namespace hoist::job
