// `hoist check`: who am I on AWS, where, and where the credentials came from.
// Prints identities and endpoints, never a key or a token.
#include <iostream>
#include <nlohmann/json.hpp>

#include "aws/client.hpp"
#include "aws/sts.hpp"
#include "cli/commands.hpp"

namespace hoist::cli {

Command register_check(CLI::App& parent, Globals& g) {
  auto* app =
      parent.add_subcommand("check", "Check AWS credentials, region and endpoints (calls STS GetCallerIdentity)");
  add_aws_options(*app, g);
  app->add_flag("--json", g.json, "Print one JSON object");
  Action action = [&g]() {
    auto session = aws::Session::create(g.aws);
    aws::Sts sts(session);
    aws::CallerIdentity id = sts.get_caller_identity();
    const auto& config = session->config;
    std::string source = session->credentials->get().source;
    std::string sts_endpoint = sts.client().endpoint();
    if (sts_endpoint.empty()) sts_endpoint = config.endpoint("sts");
    std::string s3_endpoint = config.endpoint("s3");
    bool sts_custom = config.custom_endpoint("sts");
    bool s3_custom = config.custom_endpoint("s3");
    if (g.json) {
      nlohmann::json j = {
          {"account", id.account},
          {"arn", id.arn},
          {"user_id", id.user_id},
          {"region", session->region},
          {"profile", config.profile_name()},
          {"sts_endpoint", sts_endpoint},
          {"sts_custom_endpoint", sts_custom},
          {"s3_endpoint", s3_endpoint},
          {"s3_custom_endpoint", s3_custom},
          {"credential_source", source},
      };
      std::cout << j.dump() << '\n';
      return 0;
    }
    auto custom = [](bool c) { return c ? " (custom endpoint)" : ""; };
    std::cout << "account:            " << id.account << '\n'
              << "caller:             " << id.arn << '\n'
              << "user id:            " << id.user_id << '\n'
              << "region:             " << session->region << '\n'
              << "sts endpoint:       " << sts_endpoint << custom(sts_custom) << '\n'
              << "s3 endpoint:        " << s3_endpoint << custom(s3_custom) << '\n'
              << "credentials from:   " << source << '\n';
    return 0;
  };
  return Command{app, action};
}

}  // namespace hoist::cli
