#pragma once
// tests/tools/fault_server.py on 127.0.0.1 with a free port: a server that
// answers with throttling, 5xx, resets or stalls when scripted per path.
// Started once per test binary on first use and stopped at exit.
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <csignal>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>

#include "aws/http.hpp"

namespace hoist::test {

class FaultServer {
 public:
  static FaultServer& instance() {
    static FaultServer server;
    return server;
  }
  [[nodiscard]] std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }

  // The next requests to `path` get these actions, in order (see fault_server.py).
  void script(const std::string& path, const nlohmann::json& actions) const {
    control("POST", "/__script", nlohmann::json{{"path", path}, {"actions", actions}}.dump());
  }
  // {"count": n, "requests": [...]} for requests to `path`.
  [[nodiscard]] nlohmann::json stats(const std::string& path) const {
    return nlohmann::json::parse(control("GET", "/__stats", "", path));
  }
  void reset() const { control("POST", "/__reset", ""); }

  FaultServer(const FaultServer&) = delete;
  FaultServer& operator=(const FaultServer&) = delete;
  ~FaultServer() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      ::waitpid(pid_, nullptr, 0);
    }
  }

 private:
  FaultServer() {
    std::array<int, 2> out{};
    if (::pipe(out.data()) != 0) throw std::runtime_error("pipe failed");
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(out[1], STDOUT_FILENO);
      ::close(out[0]);
      ::close(out[1]);
      const std::string script = std::string(HOIST_TEST_DATA) + "/../tools/fault_server.py";
      ::execlp("python3", "python3", script.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    ::close(out[1]);
    // The server's first line is "PORT <n>", printed once it listens.
    FILE* f = ::fdopen(out[0], "r");
    if (f == nullptr || std::fscanf(f, "PORT %d", &port_) != 1) throw std::runtime_error("fault_server did not start");
    std::fclose(f);
  }

  std::string control(const std::string& method, const std::string& path, std::string body,
                      const std::string& query_path = "") const {
    aws::HttpRequest request;
    request.method = method;
    request.endpoint = endpoint();
    request.path = path;
    if (!query_path.empty()) request.query.emplace_back("path", query_path);
    request.body.data = std::move(body);
    const aws::HttpResponse response = aws::http_send(request, aws::HttpOptions{});
    if (response.status != 200) throw std::runtime_error("fault_server control failed: " + path);
    return response.body;
  }

  int port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace hoist::test
