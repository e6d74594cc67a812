#include "aws/ssm.hpp"

#include <algorithm>

#include "aws/error.hpp"
#include "aws/protocols.hpp"

namespace hoist::aws {

Ssm::Ssm(std::shared_ptr<Session> session)
    : client_(std::move(session), Service{"ssm", "ssm", Protocol::json, "AmazonSSM"}) {}

std::optional<std::string> Ssm::get_parameter(const std::string& name) {
  try {
    auto response = json_call(client_, "GetParameter", {{"Name", name}});
    return response.at("Parameter").at("Value").get<std::string>();
  } catch (const AwsError& e) {
    if (e.is("ParameterNotFound")) return std::nullopt;
    throw;
  }
}

std::map<std::string, std::string> Ssm::get_parameters(const std::vector<std::string>& names) {
  std::map<std::string, std::string> out;
  constexpr std::size_t batch = 10;  // GetParameters' limit
  for (std::size_t start = 0; start < names.size(); start += batch) {
    nlohmann::json list = nlohmann::json::array();
    for (std::size_t i = start; i < std::min(names.size(), start + batch); ++i) list.push_back(names[i]);
    auto response = json_call(client_, "GetParameters", {{"Names", list}});
    for (const auto& p : response.value("Parameters", nlohmann::json::array()))
      out[p.at("Name").get<std::string>()] = p.at("Value").get<std::string>();
  }
  return out;
}

}  // namespace hoist::aws
