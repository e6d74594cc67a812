#include "cli/context.hpp"

#include <unistd.h>

#include <cstdio>

#include "aws/partition.hpp"
#include "aws/sts.hpp"
#include "job/naming.hpp"

namespace hoist::cli {

Connected connect(const aws::Overrides& overrides) {
  return connect(aws::Session::create(overrides));
}

Connected connect(std::shared_ptr<aws::Session> session) {
  Connected c;
  c.session = std::move(session);
  aws::Sts sts(c.session);
  auto who = sts.get_caller_identity();
  c.account.account_id = who.account;
  c.account.caller_arn = who.arn;
  c.account.region = c.session->region;
  c.account.partition = std::string(aws::partition_of(c.session->region).name);
  c.bucket = job::bucket_name(who.account, c.session->region);
  return c;
}

std::string human_bytes(double b) {
  const char* units[] = {"B", "KB", "MB", "GB", "TB"};
  int u = 0;
  while (b >= 1000 && u < 4) {
    b /= 1000;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", b, units[u]);
  return buf;
}

bool stderr_is_tty() {
  return ::isatty(STDERR_FILENO) == 1;
}

}  // namespace hoist::cli
