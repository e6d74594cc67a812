// credential_process: an external command prints the keys as JSON
// (https://docs.aws.amazon.com/cli/latest/userguide/cli-configure-sourcing-external.html).
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <nlohmann/json.hpp>

#include "aws/credentials_sources.hpp"
#include "util/error.hpp"

namespace hoist::aws::sources {
namespace {

struct Output {
  int status = -1;
  std::string out, err;
};

// Runs `/bin/sh -c command`, reading stdout and stderr together so neither
// pipe can fill up and block the child.
Output run_shell(const std::string& command) {
  int out_pipe[2], err_pipe[2];
  if (::pipe(out_pipe) != 0) throw std::runtime_error("pipe failed");
  if (::pipe(err_pipe) != 0) {
    ::close(out_pipe[0]);
    ::close(out_pipe[1]);
    throw std::runtime_error("pipe failed");
  }
  pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    ::dup2(out_pipe[1], 1);
    ::dup2(err_pipe[1], 2);
    ::close(out_pipe[0]);
    ::close(err_pipe[0]);
    ::close(out_pipe[1]);
    ::close(err_pipe[1]);
    ::execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  Output result;
  std::array<pollfd, 2> fds{pollfd{out_pipe[0], POLLIN, 0}, pollfd{err_pipe[0], POLLIN, 0}};
  std::array<std::string*, 2> sinks{&result.out, &result.err};
  int open_fds = 2;
  std::array<char, 4096> buffer{};
  while (open_fds > 0) {
    if (::poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (std::size_t i = 0; i < fds.size(); ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t n = ::read(fds[i].fd, buffer.data(), buffer.size());
      if (n > 0) {
        sinks[i]->append(buffer.data(), static_cast<std::size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        ::close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      }
    }
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
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
    Output r = run_shell(command_);
    if (r.status != 0) {
      std::string first = r.err.substr(0, r.err.find('\n'));
      throw Fatal(Exit::config,
                  what + " exited with status " + std::to_string(r.status) + (first.empty() ? "" : ": " + first));
    }
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(r.out);
    } catch (const nlohmann::json::exception&) {
      throw Fatal(Exit::config, what + " did not print JSON");
    }
    if (!j.is_object() || j.value("Version", 0) != 1) {
      throw Fatal(Exit::config, what + " printed an unsupported Version (expected 1)");
    }
    Credentials c;
    c.access_key_id = j.value("AccessKeyId", "");
    c.secret_access_key = j.value("SecretAccessKey", "");
    c.session_token = j.value("SessionToken", "");
    if (c.access_key_id.empty() || c.secret_access_key.empty()) {
      throw Fatal(Exit::config, what + " printed no AccessKeyId/SecretAccessKey");
    }
    if (auto e = j.value("Expiration", ""); !e.empty()) {
      try {
        c.expiration = parse_time(e);
      } catch (const std::invalid_argument&) {
        throw Fatal(Exit::config, what + " printed an Expiration that is not an ISO 8601 time");
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
