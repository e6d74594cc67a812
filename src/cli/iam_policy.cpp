// `hoist iam-policy`: the least-privilege policy a person needs to use hoist.
#include <iostream>

#include "aws/partition.hpp"
#include "cli/commands.hpp"
#include "cli/context.hpp"
#include "job/account.hpp"

namespace hoist::cli {

Command register_iam_policy(CLI::App& parent, Globals& g) {
  auto* app = parent.add_subcommand("iam-policy", "Print the IAM policy a user needs to run hoist (no admin needed)");
  auto account = std::make_shared<std::string>();
  app->add_option("--account", *account, "Account id (default: ask STS)");
  add_aws_options(*app, g);
  return {app, [account, &g] {
            job::AccountFacts facts;
            if (account->empty()) {
              facts = connect(g.aws).account;
            } else {
              facts.account_id = *account;
              facts.region = g.aws.region;
              facts.partition = std::string(aws::partition_of(g.aws.region).name);
            }
            std::cout << job::user_policy(facts) << "\n";
            return 0;
          }};
}

}  // namespace hoist::cli
