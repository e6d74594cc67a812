#pragma once
// What every workflow starts from: a session, the caller's account and the
// region's hoist bucket.
#include <memory>
#include <string>

#include "aws/client.hpp"
#include "job/account.hpp"

namespace hoist::job {

struct Connected {
  std::shared_ptr<aws::Session> session;
  AccountFacts account;
  std::string bucket;
};

// Resolves config and credentials and asks STS who we are. The bucket is
// --bucket, else HOIST_BUCKET, else hoist-<account>-<region>; every S3
// request to it then carries the account as its expected owner.
Connected connect(const aws::Overrides& overrides);
// Asks STS who we are, with a session made already.
Connected connect(std::shared_ptr<aws::Session> session);

}  // namespace hoist::job
