#include "job/connect.hpp"

#include <algorithm>

#include "aws/partition.hpp"
#include "aws/sts.hpp"
#include "job/naming.hpp"
#include "util/error.hpp"

namespace hoist::job {

Connected connect(const aws::Overrides& overrides) {
  return connect(aws::Session::create(overrides));
}

namespace {

// S3's rules for a bucket name (the ones a typo breaks), checked before any
// request so a bad one creates nothing.
void check_bucket_name(const std::string& name, const std::string& from) {
  const bool chars = std::all_of(name.begin(), name.end(), [](char ch) {
    return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' || ch == '.';
  });
  auto edge = [](char ch) { return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9'); };
  if (name.size() < 3 || name.size() > 63 || !chars || !edge(name.front()) || !edge(name.back()) ||
      name.find("..") != std::string::npos)
    throw Fatal(Exit::bad_option, from + " '" + name +
                                      "' is not an S3 bucket name: use 3 to 63 lower-case letters, digits, '-' and "
                                      "'.', starting and ending with a letter or digit");
}

// --bucket (or hoist.toml's bucket, which `hoist run` puts there), then
// HOIST_BUCKET; empty: the default name.
std::string chosen_bucket(const aws::Config& config) {
  if (!config.overrides.bucket.empty()) {
    check_bucket_name(config.overrides.bucket, "--bucket");
    return config.overrides.bucket;
  }
  auto env = config.env("HOIST_BUCKET");
  if (!env || env->empty()) return "";
  check_bucket_name(*env, "HOIST_BUCKET");
  return *env;
}

}  // namespace

Connected connect(std::shared_ptr<aws::Session> session) {
  Connected c;
  c.session = std::move(session);
  const std::string chosen = chosen_bucket(c.session->config);
  aws::Sts sts(c.session);
  auto who = sts.get_caller_identity();
  c.account.account_id = who.account;
  c.account.caller_arn = who.arn;
  c.account.region = c.session->region;
  c.account.partition = std::string(aws::partition_of(c.session->region).name);
  c.bucket = chosen.empty() ? bucket_name(who.account, c.session->region) : chosen;
  c.account.bucket = chosen;
  // Its name is predictable: from now on S3 refuses any request to it if
  // another account owns a bucket of that name.
  c.session->bucket_owners[c.bucket] = who.account;
  return c;
}

}  // namespace hoist::job
