// The client's memory holds credentials: no core file, not dumpable.
#include "util/harden.hpp"

#include <gtest/gtest.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

namespace hoist {
namespace {

// In a child, so the test binary itself keeps its limits.
TEST(Harden, NoCoreDumpsAndNotDumpable) {
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    const rlimit some{RLIM_INFINITY, RLIM_INFINITY};
    ::setrlimit(RLIMIT_CORE, &some);  // as a shell with `ulimit -c unlimited` leaves it (may fail unprivileged)
    disable_core_dumps();
    rlimit core{};
    ::getrlimit(RLIMIT_CORE, &core);
    const int dumpable = ::prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
    ::_exit(core.rlim_cur == 0 && core.rlim_max == 0 && dumpable == 0 ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

}  // namespace
}  // namespace hoist
