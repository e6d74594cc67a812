#include "aws/http.hpp"

#include <curl/curl.h>
#include <fcntl.h>
#include <strings.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <exception>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "util/text.hpp"

namespace hoist::aws {
namespace {

// A move-only owner of a curl easy handle. Kept per thread and reset (not
// recreated) between requests, so keep-alive connections are reused.
class CurlHandle {
 public:
  CurlHandle() {
    static std::once_flag once;
    // curl_global_init is not thread-safe; curl_easy_init would call it lazily.
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
    handle_ = curl_easy_init();
    if (handle_ == nullptr) throw std::runtime_error("libcurl: cannot create a handle");
  }
  ~CurlHandle() {
    if (handle_ != nullptr) curl_easy_cleanup(handle_);
  }
  CurlHandle(CurlHandle&& other) noexcept : handle_(std::exchange(other.handle_, nullptr)) {}
  CurlHandle& operator=(CurlHandle&& other) noexcept {
    std::swap(handle_, other.handle_);
    return *this;
  }
  CurlHandle(const CurlHandle&) = delete;
  CurlHandle& operator=(const CurlHandle&) = delete;
  [[nodiscard]] CURL* get() const { return handle_; }

 private:
  CURL* handle_ = nullptr;
};

// A file descriptor closed on scope exit.
struct Fd {
  int fd = -1;
  Fd() = default;
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

// The request body as curl pulls it: memory or a file range read with pread,
// so curl can rewind (seek) and nothing but one buffer is ever in memory.
struct ReadState {
  const Body* body = nullptr;
  int fd = -1;
  std::uint64_t pos = 0;
  std::string error;
};

size_t read_body(char* buffer, size_t size, size_t nitems, void* user) {
  auto* state = static_cast<ReadState*>(user);
  const std::uint64_t total = state->body->size();
  const std::uint64_t want = std::min<std::uint64_t>(size * nitems, total - std::min(total, state->pos));
  if (want == 0) return 0;
  if (!state->body->from_file()) {
    std::memcpy(buffer, state->body->data.data() + state->pos, want);
    state->pos += want;
    return want;
  }
  ssize_t got;
  do {
    got = ::pread(state->fd, buffer, want, static_cast<off_t>(state->body->offset + state->pos));
  } while (got < 0 && errno == EINTR);
  if (got <= 0) {
    // A file shorter than the range it promised would hang the upload.
    state->error = got == 0 ? "request body file " + state->body->file + " is shorter than expected"
                            : errno_text("cannot read", state->body->file);
    return CURL_READFUNC_ABORT;
  }
  state->pos += static_cast<std::uint64_t>(got);
  return static_cast<size_t>(got);
}

int seek_body(void* user, curl_off_t offset, int origin) {
  auto* state = static_cast<ReadState*>(user);
  if (origin != SEEK_SET || offset < 0 || static_cast<std::uint64_t>(offset) > state->body->size())
    return CURL_SEEKFUNC_FAIL;
  state->pos = static_cast<std::uint64_t>(offset);
  return CURL_SEEKFUNC_OK;
}

// Where the response goes: a 2xx body to response_file at response_offset
// (pwrite, so parallel ranges can share one file), anything else to memory
// so the error can be parsed.
struct WriteState {
  CURL* curl = nullptr;
  const HttpRequest* request = nullptr;
  HttpResponse* response = nullptr;
  Fd file;
  std::uint64_t written = 0;
  std::string error;
};

size_t write_body(char* data, size_t size, size_t nmemb, void* user) {
  auto* state = static_cast<WriteState*>(user);
  const size_t n = size * nmemb;
  long status = 0;
  curl_easy_getinfo(state->curl, CURLINFO_RESPONSE_CODE, &status);
  if (state->request->response_file.empty() || status < 200 || status >= 300) {
    state->response->body.append(data, n);
    return n;
  }
  if (state->file.fd < 0) {
    // Never O_TRUNC: other threads may be writing other ranges of this file.
    state->file.fd = ::open(state->request->response_file.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (state->file.fd < 0) {
      state->error = errno_text("cannot open", state->request->response_file);
      return 0;
    }
  }
  size_t done = 0;
  while (done < n) {
    const ssize_t put = ::pwrite(state->file.fd, data + done, n - done,
                                 static_cast<off_t>(state->request->response_offset + state->written));
    if (put < 0 && errno == EINTR) continue;
    if (put <= 0) {
      state->error = errno_text("cannot write", state->request->response_file);
      return 0;
    }
    done += static_cast<size_t>(put);
    state->written += static_cast<std::uint64_t>(put);
  }
  return n;
}

std::string trim(std::string_view s) {
  const auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string_view::npos) return {};
  const auto e = s.find_last_not_of(" \t\r\n");
  return std::string(s.substr(b, e - b + 1));
}

size_t read_header(char* data, size_t size, size_t nitems, void* user) {
  auto* response = static_cast<HttpResponse*>(user);
  const std::string_view line(data, size * nitems);
  if (line.starts_with("HTTP/")) {
    response->headers.clear();  // a new response (after 1xx): forget the previous one's headers
  } else if (const auto colon = line.find(':'); colon != std::string_view::npos) {
    response->headers.emplace_back(trim(line.substr(0, colon)), trim(line.substr(colon + 1)));
  }
  return size * nitems;
}

// Frees a curl_slist on scope exit.
struct HeaderList {
  curl_slist* list = nullptr;
  HeaderList() = default;
  HeaderList(const HeaderList&) = delete;
  HeaderList& operator=(const HeaderList&) = delete;
  ~HeaderList() { curl_slist_free_all(list); }
  void add(const std::string& line) {
    curl_slist* next = curl_slist_append(list, line.c_str());
    if (next == nullptr) throw std::bad_alloc();
    list = next;
  }
};

CURL* thread_handle() {
  thread_local CurlHandle handle;
  return handle.get();
}

bool never_connected(CURLcode rc) {
  return rc == CURLE_COULDNT_RESOLVE_HOST || rc == CURLE_COULDNT_RESOLVE_PROXY || rc == CURLE_COULDNT_CONNECT;
}

}  // namespace

std::string find_header(const Headers& headers, std::string_view name) {
  for (const auto& [key, value] : headers)
    if (key.size() == name.size() && ::strncasecmp(key.data(), name.data(), name.size()) == 0) return value;
  return {};
}

bool can_retry(int curl_code, bool request_sent) {
  switch (static_cast<CURLcode>(curl_code)) {
    case CURLE_UNSUPPORTED_PROTOCOL:  // "Received HTTP/0.9 when not allowed": garbage, as from a reset
      return request_sent;
    case CURLE_WEIRD_SERVER_REPLY:  // a status line or headers that are not HTTP
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_RESOLVE_HOST:  // botocore retries EndpointConnectionError too
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_PARTIAL_FILE:
    case CURLE_GOT_NOTHING:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_SSL_CONNECT_ERROR:  // a reset during the handshake, not a certificate problem
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_AGAIN:
      return true;
    default:  // bad URL, certificate failures, local read/write errors, aborts
      return false;
  }
}

HttpResponse http_send(const HttpRequest& request, const HttpOptions& options) {
  CURL* curl = thread_handle();
  curl_easy_reset(curl);  // drops options, keeps the connection cache
  HttpResponse response;

  ReadState reader;
  reader.body = &request.body;
  Fd body_file;
  if (request.body.from_file()) {
    body_file.fd = ::open(request.body.file.c_str(), O_RDONLY | O_CLOEXEC);
    if (body_file.fd < 0) throw std::runtime_error(errno_text("cannot open", request.body.file));
    reader.fd = body_file.fd;
  }
  WriteState writer;
  writer.curl = curl;
  writer.request = &request;
  writer.response = &response;

  const std::string url = request.url();
  std::array<char, CURL_ERROR_SIZE> error_buffer{};
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  // Send the path as signed: S3 keys may hold "./" and "../" segments.
  curl_easy_setopt(curl, CURLOPT_PATH_AS_IS, 1L);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error_buffer.data());
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);  // timeouts without SIGALRM: we are multi-threaded
  curl_easy_setopt(curl, CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_1_1));
  // Never accept an answer without a status line as a body (curl's default
  // since 7.66, said here so it stays): it is a broken connection.
  curl_easy_setopt(curl, CURLOPT_HTTP09_ALLOWED, 0L);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(options.connect_timeout.count()));
  curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, options.low_speed_bytes);
  curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, static_cast<long>(options.low_speed_time.count()));
  curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, options.verify_tls ? 1L : 0L);
  curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, options.verify_tls ? 2L : 0L);
  if (!options.ca_bundle.empty()) curl_easy_setopt(curl, CURLOPT_CAINFO, options.ca_bundle.c_str());

  const bool sends_body = request.body.size() > 0 || request.method == "PUT" || request.method == "POST";
  if (request.method == "HEAD") {
    curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
  } else if (sends_body) {
    // Upload mode for every body, so bodies always stream through read_body
    // and an empty PUT/POST still says Content-Length: 0.
    curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, request.method.c_str());
    curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
    // Larger reads and sends than curl's 64 KB default: fewer system calls
    // per megabyte (the buffer is per handle, one per transfer thread).
    curl_easy_setopt(curl, CURLOPT_UPLOAD_BUFFERSIZE, 512L * 1024);
    curl_easy_setopt(curl, CURLOPT_READFUNCTION, read_body);
    curl_easy_setopt(curl, CURLOPT_READDATA, &reader);
    curl_easy_setopt(curl, CURLOPT_SEEKFUNCTION, seek_body);
    curl_easy_setopt(curl, CURLOPT_SEEKDATA, &reader);
  } else if (request.method != "GET") {
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  }
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, write_body);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &writer);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, read_header);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &response);

  HeaderList headers;
  for (const auto& [name, value] : request.headers) {
    std::string line = name;
    line += value.empty() ? ";" : ": ";  // "Name;" sends an empty value
    line += value;
    headers.add(line);
  }
  // No 100-continue round trip, and no Accept: */* that nobody asked for.
  if (find_header(request.headers, "Expect").empty()) headers.add("Expect:");
  if (find_header(request.headers, "Accept").empty()) headers.add("Accept:");
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers.list);

  const CURLcode rc = curl_easy_perform(curl);
  // Never the URL: a presigned query string would leak; endpoint + path only.
  const std::string what = request.method + " " + request.endpoint + request.path;
  if (!reader.error.empty()) throw std::runtime_error(what + ": " + reader.error);
  if (!writer.error.empty()) throw std::runtime_error(what + ": " + writer.error);
  if (rc != CURLE_OK) {
    const std::string detail = error_buffer[0] != '\0' ? error_buffer.data() : curl_easy_strerror(rc);
    long request_size = 0;
    curl_easy_getinfo(curl, CURLINFO_REQUEST_SIZE, &request_size);
    // curl closes a connection whose transfer failed, so the retry of an
    // answer that was not HTTP goes out on a new one, as after a reset.
    throw TransportError(what + ": " + detail, static_cast<int>(rc), can_retry(static_cast<int>(rc), request_size > 0),
                         never_connected(rc));
  }
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &response.status);
  return response;
}

void parallel_for(std::size_t count, std::size_t parallelism, const std::function<void(std::size_t)>& fn) {
  const std::size_t threads = std::min(std::max<std::size_t>(parallelism, 1), count);
  std::atomic<std::size_t> next{0};
  std::atomic<bool> failed{false};
  std::exception_ptr first_error;
  std::mutex error_mutex;
  auto work = [&] {
    while (!failed) {
      const std::size_t i = next++;
      if (i >= count) return;
      try {
        fn(i);
      } catch (...) {
        std::lock_guard lock(error_mutex);
        if (!first_error) first_error = std::current_exception();
        failed = true;  // no new items start; running ones finish
      }
    }
  };
  std::vector<std::thread> pool;
  pool.reserve(threads);
  for (std::size_t t = 0; t < threads; ++t) pool.emplace_back(work);
  for (auto& thread : pool) thread.join();
  if (first_error) std::rethrow_exception(first_error);
}

}  // namespace hoist::aws
