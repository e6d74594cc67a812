#pragma once
// HTTP over libcurl: one reusable easy handle per thread (connection reuse),
// timeouts, TLS verification, request bodies streamed from files and response
// bodies streamed to files, so a large object is never held in memory.
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace hoist::aws {

using Headers = std::vector<std::pair<std::string, std::string>>;

// Case-insensitive header lookup; empty when absent.
std::string find_header(const Headers& headers, std::string_view name);

// A request body: nothing, bytes in memory, or a byte range of a file.
struct Body {
  std::string data;
  std::string file;  // when set, stream [offset, offset + length) of this file
  std::uint64_t offset = 0;
  std::uint64_t length = 0;
  [[nodiscard]] bool from_file() const { return !file.empty(); }
  [[nodiscard]] std::uint64_t size() const { return from_file() ? length : data.size(); }
};

struct HttpRequest {
  std::string method = "GET";
  std::string endpoint;    // scheme://host[:port], no trailing slash
  std::string path = "/";  // as sent on the wire: already percent-encoded
  // Query parameters, raw (not encoded); encoded with SigV4's rules when sent.
  std::vector<std::pair<std::string, std::string>> query;
  Headers headers;
  Body body;
  // When set, a 2xx response body is written to this file at response_offset
  // instead of memory (the file is created if missing, never truncated).
  std::string response_file;
  std::uint64_t response_offset = 0;

  [[nodiscard]] std::string host() const;  // host[:port] from endpoint
  [[nodiscard]] std::string url() const;   // full URL with the encoded query
};

struct HttpResponse {
  long status = 0;
  Headers headers;
  std::string body;  // empty when streamed to response_file
  [[nodiscard]] std::string header(std::string_view name) const { return find_header(headers, name); }
};

// A request that got no HTTP response: connection refused or reset, DNS,
// timeout, TLS, an answer that is not HTTP. `retryable` says whether sending
// it again could help; `unreachable` that no server was reached at all (DNS,
// connection refused), as with a wrong endpoint.
struct TransportError : std::runtime_error {
  TransportError(const std::string& what, int code, bool can_retry_it, bool never_connected = false)
      : std::runtime_error(what), curl_code(code), retryable(can_retry_it), unreachable(never_connected) {}
  int curl_code;
  bool retryable;
  bool unreachable;
};

struct HttpOptions {
  std::chrono::milliseconds connect_timeout{10'000};
  // A transfer slower than low_speed_bytes/s for low_speed_time is abandoned.
  long low_speed_bytes = 1;
  std::chrono::seconds low_speed_time{60};
  bool verify_tls = true;
  std::string ca_bundle;  // AWS_CA_BUNDLE
};

// Whether a libcurl failure (a CURLcode) may succeed when sent again:
// refused/reset connections, timeouts, truncated transfers, answers that are
// not HTTP yes; bad URLs, TLS certificate failures and local file errors no.
// The one place that decides. `request_sent`: curl wrote the request, so an
// "unsupported protocol" is the answer's (HTTP/0.9: no status line), not the
// URL's scheme.
bool can_retry(int curl_code, bool request_sent = false);

// Sends one request on this thread's reusable handle. Throws TransportError
// (and std::runtime_error when a local body or response file cannot be used).
// A connection whose request failed is never used again (curl closes it).
HttpResponse http_send(const HttpRequest& request, const HttpOptions& options);

// Runs fn(i) for i in [0, count) on up to `parallelism` threads (each thread
// reuses its own connection); rethrows the first exception after all stop.
void parallel_for(std::size_t count, std::size_t parallelism, const std::function<void(std::size_t)>& fn);

}  // namespace hoist::aws
