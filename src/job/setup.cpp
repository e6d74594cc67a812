#include "job/setup.hpp"

#include "aws/error.hpp"
#include "job/account.hpp"
#include "job/reporter.hpp"
#include "util/error.hpp"

namespace hoist::job {

void setup(const Connected& c, const std::vector<std::string>& data, Reporter& reporter) {
  try {
    const bool changed = put_boundary(c.session, c.account, data);
    reporter.note(std::string(changed ? "job boundary " : "job boundary unchanged: ") + boundary_arn(c.account) +
                  " (every job role is created with it: S3 objects of hoist's bucket" +
                  (data.empty() ? " and of any bucket" : " and of " + std::to_string(data.size()) + " data bucket(s)") +
                  ", hoist's ECR repositories, nothing else)");
    if (data.empty())
      reporter.warn(
          "jobs may read and write any S3 bucket this account reaches: `hoist setup --data-bucket "
          "NAME` (repeated) names the only ones they may");
    const std::string user = put_managed_policy(c.session, c.account, kUserPolicyName, user_policy(c.account),
                                                "What a person needs to run hoist (made by hoist setup)")
                                 ? "policy "
                                 : "policy unchanged: ";
    reporter.note(user + managed_policy_arn(c.account, kUserPolicyName) +
                  ": attach it to the users, groups or roles who run hoist");
  } catch (const aws::AwsError& e) {
    if (!e.access_denied()) throw;
    throw Fatal(Exit::access_denied, "hoist setup needs IAM rights to create policies (" + e.code +
                                         "): run it as an administrator of the account");
  }
}

}  // namespace hoist::job
