// `hoist iam-policy`: the least-privilege policy a person needs to use hoist;
// `hoist setup`: what an administrator makes once so that such a person can.
#include <iostream>
#include <nlohmann/json.hpp>

#include "aws/partition.hpp"
#include "cli/commands.hpp"
#include "cli/reporters.hpp"
#include "job/account.hpp"
#include "job/connect.hpp"
#include "job/setup.hpp"
#include "util/error.hpp"

namespace hoist::cli {
namespace {

// "NAME" or "s3://NAME[/...]" -> NAME; "*" stays.
std::string bucket_of(const std::string& arg) {
  std::string b = arg.starts_with("s3://") ? arg.substr(5) : arg;
  b = b.substr(0, b.find('/'));
  if (b.empty()) throw Fatal(Exit::bad_option, "--data-bucket " + arg + " names no bucket: give NAME or s3://NAME");
  return b;
}

}  // namespace

Command register_iam_policy(CLI::App& parent, Globals& g) {
  auto* app = parent.add_subcommand("iam-policy", "Print the IAM policy a user needs to run hoist (no admin needed)");
  auto account = std::make_shared<std::string>();
  auto boundary = std::make_shared<bool>(false);
  app->add_option("--account", *account, "Account id (default: ask STS)");
  app->add_flag("--boundary", *boundary,
                "Print instead the boundary every job role gets (`hoist setup` creates it), allowing any data bucket");
  add_aws_options(*app, g);
  return {app, [account, boundary, &g] {
            job::AccountFacts facts;
            if (account->empty()) {
              facts = job::connect(g.aws).account;
            } else {
              facts.account_id = *account;
              facts.region = g.aws.region;
              facts.partition = std::string(aws::partition_of(g.aws.region).name);
              facts.bucket = g.aws.bucket;
            }
            if (*boundary)
              std::cout << nlohmann::json::parse(job::boundary_policy(facts, {})).dump(2) << "\n";
            else
              std::cout << job::user_policy(facts) << "\n";
            return 0;
          }};
}

Command register_setup(CLI::App& parent, Globals& g) {
  auto* app = parent.add_subcommand(
      "setup",
      "Once per account, as an administrator: the job boundary and the hoist-user policy for the people who "
      "run hoist");
  auto buckets = std::make_shared<std::vector<std::string>>();
  app->add_option("--data-bucket", *buckets,
                  "A bucket jobs may read (-i s3://...) and write (-o s3://...) besides hoist's own; repeat for "
                  "more (default: any bucket)");
  add_aws_options(*app, g);
  return {app, [buckets, &g] {
            std::vector<std::string> data;
            for (const auto& b : *buckets) data.push_back(bucket_of(b));
            TerminalReporter reporter;
            job::setup(job::connect(g.aws), data, reporter);
            return 0;
          }};
}

}  // namespace hoist::cli
