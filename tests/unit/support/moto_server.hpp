#pragma once
// A moto_server on 127.0.0.1 with a free port, started once per test binary
// on first use and stopped at exit. Sets the AWS_* environment so that every
// hoist client in the process talks to it with fake credentials.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <thread>

#include "aws/client.hpp"

namespace hoist::test {

inline int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ::close(fd);
    throw std::runtime_error("no free port on 127.0.0.1");
  }
  int port = ntohs(addr.sin_port);
  ::close(fd);
  return port;
}

inline bool port_open(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

class MotoServer {
 public:
  static MotoServer& instance() {
    static MotoServer server;
    return server;
  }
  [[nodiscard]] std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }
  // A session on this server in us-east-1, with its fake credentials.
  [[nodiscard]] std::shared_ptr<aws::Session> session() const {
    aws::Overrides o;
    o.region = "us-east-1";
    o.endpoint_url = endpoint();
    return aws::Session::create(o);
  }
  // Forgets every resource (POST /moto-api/reset).
  void reset() const {
    std::string cmd = "curl -s -o /dev/null -X POST " + endpoint() + "/moto-api/reset";
    if (std::system(cmd.c_str()) != 0) throw std::runtime_error("moto reset failed");
  }
  MotoServer(const MotoServer&) = delete;
  MotoServer& operator=(const MotoServer&) = delete;
  ~MotoServer() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      ::waitpid(pid_, nullptr, 0);
    }
  }

 private:
  MotoServer() {
    port_ = free_port();
    pid_ = ::fork();
    if (pid_ == 0) {
      std::string p = std::to_string(port_);
      ::execlp("moto_server", "moto_server", "-H", "127.0.0.1", "-p", p.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    for (int i = 0; i < 300 && !port_open(port_); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (!port_open(port_)) throw std::runtime_error("moto_server did not start");
    ::setenv("AWS_ENDPOINT_URL", endpoint().c_str(), 1);
    ::setenv("AWS_ACCESS_KEY_ID", "testing", 1);
    ::setenv("AWS_SECRET_ACCESS_KEY", "testing", 1);
    ::unsetenv("AWS_SESSION_TOKEN");
    ::unsetenv("AWS_PROFILE");
    ::setenv("AWS_DEFAULT_REGION", "us-east-1", 1);
    ::setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
    ::setenv("AWS_CONFIG_FILE", "/dev/null", 1);
    ::setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null", 1);
  }
  int port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace hoist::test
