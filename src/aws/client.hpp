#pragma once
// Sends signed requests to one AWS service with the shared retry policy and
// turns failures into AwsError. Every AWS call in hoist goes through here.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "aws/config.hpp"
#include "aws/credentials.hpp"
#include "aws/http.hpp"
#include "aws/retry.hpp"

namespace hoist::aws {

enum class Protocol { query, rest_xml, json };

struct Service {
  std::string id;            // endpoint id: "s3", "ec2", "logs", ...
  std::string signing_name;  // "s3", "ec2", "logs", ...
  Protocol protocol;
  std::string api_version;  // query protocol: "2016-11-15"; json: target prefix "AmazonSSM"
  bool global = false;      // IAM: signed for its partition's region (us-east-1) whatever the region
};

// What every client shares for one hoist invocation.
struct Session {
  Config config;
  std::string region;
  std::shared_ptr<CredentialProvider> credentials;
  std::shared_ptr<RetryPolicy> retry;
  HttpOptions http;
  // AWS's clock minus this computer's, learnt from a response that refused a
  // request as signed too far from AWS's time (a laptop clock that drifted,
  // as WSL2's does after sleep); every later request is signed with it.
  std::atomic<std::int64_t> clock_offset_ms{0};
  // S3: the account that must own each of these buckets. Every request to
  // one carries x-amz-expected-bucket-owner, so S3 refuses it (403) when a
  // bucket of that name belongs to another account. Filled before the
  // session is shared between threads, read-only after.
  std::map<std::string, std::string, std::less<>> bucket_owners;

  // Loads config, resolves region and credentials (lazily fetched).
  static std::shared_ptr<Session> create(const Overrides& overrides);
};

struct CallOptions {
  // S3: sign as UNSIGNED-PAYLOAD (file bodies over TLS) or with a known hash.
  bool unsigned_payload = false;
  std::string payload_hash;
  // Statuses that are not errors for this call (e.g. 404 for HEAD-if-exists).
  std::vector<long> ok_statuses;
};

class Client {
 public:
  Client(std::shared_ptr<Session> session, Service service);

  // Fills endpoint when empty, signs, sends, retries per policy. Returns the
  // 2xx response (or one in ok_statuses); throws AwsError otherwise.
  HttpResponse send(std::string_view operation, HttpRequest request, const CallOptions& options = {});

  // This client for one bulk transfer: each of its calls is an idempotent
  // request (a file's PUT, a part, a GET to a file, a HEAD or LIST of what
  // to send) that retries as RetryPolicy::next_transfer_delay says, and is
  // in flight only while `limit` has room. Unreachable endpoints (DNS,
  // refused) keep the standard attempts until a call of the transfer has
  // succeeded, so a wrong --endpoint-url fails in seconds, not minutes.
  [[nodiscard]] Client for_transfer(std::shared_ptr<ConcurrencyLimit> limit) const;
  // The transfer's limit; null for a client of standard calls.
  [[nodiscard]] const std::shared_ptr<ConcurrencyLimit>& transfer_limit() const { return transfer_; }

  [[nodiscard]] const std::string& endpoint() const { return endpoint_; }
  [[nodiscard]] const std::string& region() const { return session_->region; }
  [[nodiscard]] const Session& session() const { return *session_; }
  [[nodiscard]] const Service& service() const { return service_; }
  // Called on every request before it is signed (S3 adds the bucket owner).
  void before_signing(std::function<void(HttpRequest&)> prepare) { prepare_ = std::move(prepare); }

 private:
  std::shared_ptr<Session> session_;
  Service service_;
  std::string endpoint_;
  std::shared_ptr<ConcurrencyLimit> transfer_;
  std::function<void(HttpRequest&)> prepare_;
};

// AWS's time when it answered: the response's Date (RFC 7231 IMF-fixdate).
std::optional<std::chrono::system_clock::time_point> server_time(const HttpResponse& response);

// Error code, message and request id from an error response of a protocol.
struct ErrorInfo {
  std::string code, message, request_id;
};
ErrorInfo parse_error(Protocol protocol, const HttpResponse& response);

}  // namespace hoist::aws
