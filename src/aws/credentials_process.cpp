// credential_process: an external command prints the keys as JSON
// (https://docs.aws.amazon.com/cli/latest/userguide/cli-configure-sourcing-external.html).
#include <fcntl.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "aws/credentials_sources.hpp"
#include "aws/error.hpp"

namespace hoist::aws::sources {
namespace {

// How long the command may take: long enough for a human to answer an MFA
// prompt, short enough that a hung helper does not hang hoist for ever.
constexpr std::chrono::seconds kDefaultTimeout{60};
constexpr const char* kTimeoutVariable = "HOIST_CREDENTIAL_PROCESS_TIMEOUT";

std::chrono::milliseconds process_timeout() {
  const char* text = std::getenv(kTimeoutVariable);
  if (text == nullptr || *text == '\0') return kDefaultTimeout;
  char* end = nullptr;
  const double seconds = std::strtod(text, &end);
  if (*end != '\0' || !(seconds > 0) || seconds > 86400)
    throw Failure(Failure::config, std::string(kTimeoutVariable) + " '" + text +
                                       "' is not a number of seconds: set it to, say, 120, or unset it for 60");
  return std::chrono::milliseconds(static_cast<std::int64_t>(seconds * 1000));
}

struct Output {
  int status = -1;
  bool timed_out = false;
  std::string out;
};

// True when hoist has a terminal a prompt could use (/dev/tty opens).
bool has_terminal() {
  const int fd = ::open("/dev/tty", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  ::close(fd);
  return true;
}

// Ends a child that outlived its time: TERM, a second to go, then KILL; to
// `target`, the child or (negative) its process group.
int stop(pid_t pid, pid_t target) {
  ::kill(target, SIGTERM);
  int status = 0;
  bool exited = false;
  for (int i = 0; i < 20 && !exited; ++i) {
    exited = ::waitpid(pid, &status, WNOHANG) == pid;
    if (!exited) ::usleep(50'000);
  }
  ::kill(target, SIGKILL);  // the group's stragglers too
  if (!exited) {
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
  }
  return status;
}

// Runs `/bin/sh -c command`, reading its stdout for at most `timeout`. Its
// stderr is hoist's (an MFA prompt, a login hint reach the user as they are
// written), and so is its stdin when that is a terminal, so a prompt can be
// answered; otherwise stdin is /dev/null, not hoist's own input.
Output run_shell(const std::string& command, std::chrono::milliseconds timeout) {
  std::array<int, 2> out_pipe{};
  if (::pipe2(out_pipe.data(), O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
  const bool interactive = ::isatty(STDIN_FILENO) == 1;
  // Without a terminal, the command and whatever it starts form a process
  // group of their own, stopped together on timeout. With one, it stays in
  // hoist's group: a background group reading the terminal (a prompt) would
  // be stopped by SIGTTIN, and Ctrl-C reaches it anyway.
  const bool own_group = !has_terminal();
  pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    if (own_group) ::setpgid(0, 0);
    ::dup2(out_pipe[1], 1);
    if (!interactive) {
      const int null = ::open("/dev/null", O_RDONLY);
      if (null >= 0) ::dup2(null, 0);
    }
    ::execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  if (own_group) ::setpgid(pid, pid);  // as the child does: whichever runs first
  ::close(out_pipe[1]);
  Output result;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  pollfd fd{out_pipe[0], POLLIN, 0};
  std::array<char, 4096> buffer{};
  for (;;) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      result.timed_out = true;
      break;
    }
    const int ready = ::poll(&fd, 1, static_cast<int>(left.count()));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) {
      result.timed_out = ready == 0;
      break;
    }
    ssize_t n = ::read(fd.fd, buffer.data(), buffer.size());
    if (n > 0)
      result.out.append(buffer.data(), static_cast<std::size_t>(n));
    else if (n == 0 || errno != EINTR)
      break;
  }
  ::close(out_pipe[0]);
  int status = 0;
  if (result.timed_out) {
    status = stop(pid, own_group ? -pid : pid);
  } else {
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
  }
  result.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

class ProcessProvider : public CredentialProvider {
 public:
  ProcessProvider(std::string profile, std::string command)
      : profile_(std::move(profile)), command_(std::move(command)) {}

 protected:
  Credentials fetch() override {
    std::string what = "credential_process of profile '" + profile_ + "'";
    const auto timeout = process_timeout();
    Output r = run_shell(command_, timeout);
    if (r.timed_out)
      throw Failure(Failure::config,
                    what + " did not finish within " +
                        std::to_string(std::chrono::duration_cast<std::chrono::seconds>(timeout).count()) +
                        " s and was stopped: check the command runs on its own (or answer its prompt "
                        "sooner; " +
                        kTimeoutVariable + "=SECONDS gives it longer)");
    if (r.status != 0)
      throw Failure(Failure::config, what + " exited with status " + std::to_string(r.status) +
                                         " (what it printed, if anything, is above): run it yourself to see why");
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(r.out);
    } catch (const nlohmann::json::exception&) {
      throw Failure(Failure::config, what + " did not print JSON");
    }
    if (!j.is_object() || j.value("Version", 0) != 1) {
      throw Failure(Failure::config, what + " printed an unsupported Version (expected 1)");
    }
    Credentials c;
    c.access_key_id = j.value("AccessKeyId", "");
    c.secret_access_key = j.value("SecretAccessKey", "");
    c.session_token = j.value("SessionToken", "");
    if (c.access_key_id.empty() || c.secret_access_key.empty()) {
      throw Failure(Failure::config, what + " printed no AccessKeyId/SecretAccessKey");
    }
    if (auto e = j.value("Expiration", ""); !e.empty()) {
      try {
        c.expiration = parse_time(e);
      } catch (const std::invalid_argument&) {
        throw Failure(Failure::config, what + " printed an Expiration that is not an ISO 8601 time");
      }
    }
    c.source = "credential-process (profile " + profile_ + ")";
    return c;
  }

 private:
  std::string profile_;
  std::string command_;
};

}  // namespace

std::shared_ptr<CredentialProvider> process(const Config& config, const std::string& profile) {
  auto command = config.get(profile, "credential_process");
  if (!command || command->empty()) return nullptr;
  return std::make_shared<ProcessProvider>(profile, *command);
}

}  // namespace hoist::aws::sources
