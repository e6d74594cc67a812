#include "aws/error.hpp"

#include <algorithm>
#include <array>
#include <regex>

#include "aws/retry.hpp"

namespace hoist::aws {
namespace {

std::string summary(const std::string& service, const std::string& operation, const std::string& code,
                    const std::string& message) {
  std::string s = service + " " + operation + " failed: " + code;
  if (!message.empty()) s += ": " + message;
  return s;
}

constexpr std::array<std::string_view, 9> kDeniedCodes = {
    "AccessDenied",       "AccessDeniedException",       "UnauthorizedOperation",
    "UnauthorizedAccess", "AuthorizationError",          "Forbidden",
    "NotAuthorized",      "AuthorizationErrorException", "UnauthorizedException",
};
constexpr std::array<std::string_view, 4> kExpiredCodes = {"ExpiredToken", "ExpiredTokenException", "RequestExpired",
                                                           "TokenRefreshRequired"};
constexpr std::array<std::string_view, 6> kBadKeyCodes = {"InvalidClientTokenId", "UnrecognizedClientException",
                                                          "InvalidAccessKeyId",   "AuthFailure",
                                                          "InvalidToken",         "IncompleteSignature"};

bool one_of(std::string_view code, auto const& list) {
  return std::ranges::find(list, code) != list.end();
}

// "... is not authorized to perform: ec2:RunInstances on resource ..." ->
// "ec2:RunInstances" (IAM's wording, shared by every service).
std::string missing_permission(const std::string& message) {
  static const std::regex perform(R"(perform:?\s+([A-Za-z0-9-]+:[A-Za-z0-9*]+))");
  std::smatch m;
  if (std::regex_search(message, m, perform)) return m[1];
  return {};
}

std::string hint(const AwsError& e, const Advice& advice) {
  if (e.code == "NetworkError")
    return "Check the network connection and the endpoint (--endpoint-url / AWS_ENDPOINT_URL).";
  if (one_of(e.code, kExpiredCodes))
    return "The credentials have expired: refresh them (for an SSO profile run `aws sso login`).";
  if (e.code == "SignatureDoesNotMatch") {
    const std::string source =
        advice.show_credentials.empty() ? "" : " (" + advice.show_credentials + " shows its source)";
    return "Check the secret access key in use" + source + " and the system clock.";
  }
  if (one_of(e.code, kBadKeyCodes)) {
    const std::string with = advice.show_credentials.empty() ? "" : " with " + advice.show_credentials;
    return "The access key is not valid here: check which credentials are in use" + with +
           ", and that the region is enabled for the account (regions opened since 2019, such as af-south-1 or "
           "ap-east-1, must be turned on first).";
  }
  if (e.access_denied()) {
    const std::string permission = missing_permission(e.aws_message);
    const std::string needer = advice.program.empty() ? "this request" : advice.program;
    const std::string policy =
        advice.print_policy.empty() ? "." : "; " + advice.print_policy + " prints the policy " + needer + " needs.";
    return (permission.empty() ? "The credentials lack a permission " + needer + " needs"
                               : "The credentials lack the permission " + permission) +
           policy;
  }
  if (classify(e.http_status, e.code) == Retryability::throttling)
    return "AWS is throttling requests to this account; retry in a few minutes.";
  if (e.code == "NoSuchBucket")
    return "The bucket does not exist (or is in another account): check its name and the region.";
  if (e.code == "NoSuchKey" || e.code == "NotFound")
    return "The object does not exist: check the bucket, key and region.";
  if (e.code == "OptInRequired" || e.code == "PendingVerification")
    return "The account is not yet enabled for this service or region.";
  if (e.code == "VcpuLimitExceeded" || e.code == "InstanceLimitExceeded" || e.code == "MaxSpotInstanceCountExceeded")
    return "An account quota is reached: request an increase in the Service Quotas console, or use a smaller "
           "instance.";
  if (e.no_capacity() || e.code == "SpotMaxPriceTooLow")
    return "AWS has no capacity for this instance type right now: try another type, region or on-demand.";
  if (e.code == "VPCIdNotSpecified")
    return "This region has no default VPC to launch into: create one with `aws ec2 create-default-vpc`, or pick "
           "another --region.";
  if (e.http_status >= 500) return "AWS had an internal error; retry later.";
  return {};
}

}  // namespace

AwsError::AwsError(std::string service_, std::string operation_, std::string code_, std::string message,
                   std::string request_id_, long http_status_)
    : std::runtime_error(summary(service_, operation_, code_, message)),
      service(std::move(service_)),
      operation(std::move(operation_)),
      code(std::move(code_)),
      aws_message(std::move(message)),
      request_id(std::move(request_id_)),
      http_status(http_status_) {}

bool AwsError::access_denied() const {
  return one_of(code, kDeniedCodes) || code.find("AccessDenied") != std::string::npos;
}

bool AwsError::not_found() const {
  if (http_status == 404) return true;
  return code.starts_with("NoSuch") || code.find("NotFound") != std::string::npos;
}

bool is_capacity_code(std::string_view code) {
  return code == "InsufficientInstanceCapacity" || code == "InsufficientCapacity";
}

bool AwsError::no_capacity() const {
  return is_capacity_code(code);
}

std::string describe(const AwsError& error, const Advice& advice) {
  std::string s = summary(error.service, error.operation, error.code, error.aws_message);
  s += error.http_status == 0 ? " (no response" : " (HTTP " + std::to_string(error.http_status);
  if (!error.request_id.empty()) s += ", request id " + error.request_id;
  s += ").";
  if (const std::string h = hint(error, advice); !h.empty()) s += " " + h;
  return s;
}

}  // namespace hoist::aws
