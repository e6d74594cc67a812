#include "aws/client.hpp"

#include <algorithm>
#include <chrono>
#include <ctime>
#include <nlohmann/json.hpp>
#include <optional>
#include <pugixml.hpp>

#include "aws/crypto.hpp"
#include "aws/error.hpp"
#include "aws/partition.hpp"
#include "aws/protocols.hpp"
#include "aws/sigv4.hpp"
#include "util/log.hpp"

namespace hoist::aws {
namespace {

// What AWS answers a request signed too far from its own time with (the
// AWS SDKs' clock-skew codes: S3, EC2, query and JSON services).
bool is_clock_skew_code(std::string_view code) {
  return code == "RequestTimeTooSkewed" || code == "RequestExpired" || code == "RequestInTheFuture" ||
         code == "InvalidSignatureException" || code == "SignatureDoesNotMatch" || code == "AuthFailure";
}

// SigV4 accepts 5 minutes either way (S3 15): a larger difference between a
// refused request's time and AWS's is the clock's fault, not the signature's.
constexpr std::chrono::minutes kClockSkewLimit{4};

std::string seconds_text(std::chrono::milliseconds d) {
  return std::to_string(std::chrono::duration_cast<std::chrono::seconds>(d).count()) + " s";
}

bool is_expired_token(std::string_view code) {
  return code == "ExpiredToken" || code == "ExpiredTokenException" || code == "RequestExpired";
}

std::string attempt_line(const Service& service, std::string_view operation, const std::string& outcome, int attempt) {
  return service.id + " " + std::string(operation) + " -> " + outcome + " (attempt " + std::to_string(attempt) + ")";
}

// A code for a response without a parseable body (S3 HEAD, a proxy page).
std::string code_from_status(long status) {
  switch (status) {
    case 400:
      return "BadRequest";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "NotFound";
    case 405:
      return "MethodNotAllowed";
    case 409:
      return "Conflict";
    case 412:
      return "PreconditionFailed";
    case 429:
      return "TooManyRequests";
    case 500:
      return "InternalError";
    case 502:
      return "BadGateway";
    case 503:
      return "ServiceUnavailable";
    case 504:
      return "GatewayTimeout";
    default:
      return "HTTP" + std::to_string(status);
  }
}

// "com.amazonaws.ssm#InvalidParameters" -> "InvalidParameters";
// x-amzn-ErrorType "ValidationException:http://..." -> "ValidationException".
std::string strip_json_code(std::string code) {
  if (auto hash = code.rfind('#'); hash != std::string::npos) code.erase(0, hash + 1);
  if (auto colon = code.find(':'); colon != std::string::npos) code.erase(colon);
  return code;
}

void parse_json_error(const HttpResponse& response, ErrorInfo& info) {
  const auto json = nlohmann::json::parse(response.body, nullptr, false);
  if (json.is_object()) {
    for (const char* key : {"__type", "code", "Code"})
      if (auto it = json.find(key); it != json.end() && it->is_string()) {
        info.code = strip_json_code(it->get<std::string>());
        break;
      }
    for (const char* key : {"message", "Message", "errorMessage"})
      if (auto it = json.find(key); it != json.end() && it->is_string()) {
        info.message = it->get<std::string>();
        break;
      }
  }
  if (info.code.empty()) info.code = strip_json_code(response.header("x-amzn-ErrorType"));
}

// Query (<ErrorResponse><Error>), EC2 (<Response><Errors><Error>) and
// rest-xml (<Error>) all hold Code and Message under the first Error element.
void parse_xml_error(const HttpResponse& response, ErrorInfo& info) {
  pugi::xml_document doc;
  if (!doc.load_buffer(response.body.data(), response.body.size())) return;
  pugi::xml_node error = doc.find_node([](const pugi::xml_node& n) { return std::string_view(n.name()) == "Error"; });
  if (!error) error = doc;
  info.code = xml_text(error, "Code");
  info.message = xml_text(error, "Message");
  if (info.request_id.empty()) info.request_id = xml_text(doc, "RequestId");
  if (info.request_id.empty()) info.request_id = xml_text(doc, "RequestID");
}

// One attempt's place in a transfer's ConcurrencyLimit (none without one),
// held while the request is on the wire; its time counts as spent. Given
// back as failed if an exception leaves first.
class Slot {
 public:
  Slot(ConcurrencyLimit* limit, std::chrono::milliseconds& spent)
      : limit_(limit), spent_(spent), ticket_(limit != nullptr ? limit->acquire() : 0) {}
  Slot(const Slot&) = delete;
  Slot& operator=(const Slot&) = delete;
  ~Slot() { release(ConcurrencyLimit::Outcome::failed); }
  void release(ConcurrencyLimit::Outcome outcome) {
    if (limit_ == nullptr) return;
    limit_->release(ticket_, outcome);
    limit_ = nullptr;
    spent_ += std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start_);
  }

 private:
  ConcurrencyLimit* limit_;
  std::chrono::milliseconds& spent_;
  std::uint64_t ticket_;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

}  // namespace

std::optional<std::chrono::system_clock::time_point> server_time(const HttpResponse& response) {
  const std::string date = response.header("Date");
  std::tm tm{};
  const char* end = ::strptime(date.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  if (date.empty() || end == nullptr || *end != '\0') return std::nullopt;
  return std::chrono::system_clock::from_time_t(::timegm(&tm));
}

ErrorInfo parse_error(Protocol protocol, const HttpResponse& response) {
  ErrorInfo info;
  info.request_id = response.header("x-amzn-RequestId");
  if (info.request_id.empty()) info.request_id = response.header("x-amz-request-id");
  if (!response.body.empty()) {
    // Services answer some errors in the other format (a JSON service behind
    // an XML front end): try the protocol's format first, then the other.
    if (protocol == Protocol::json) parse_json_error(response, info);
    if (info.code.empty()) parse_xml_error(response, info);
    if (info.code.empty() && protocol != Protocol::json) parse_json_error(response, info);
  }
  if (info.code.empty()) info.code = code_from_status(response.status);
  return info;
}

std::shared_ptr<Session> Session::create(const Overrides& overrides) {
  auto session = std::make_shared<Session>();
  session->config = Config::load(overrides);
  session->region = session->config.region();
  session->credentials = resolve_credentials(session->config);

  const Config& config = session->config;
  const std::string& profile = config.profile_name();
  RetryPolicy::Options retry;
  if (auto env = config.env("AWS_MAX_ATTEMPTS"); env && !env->empty())
    retry.max_attempts = parse_max_attempts(*env, "AWS_MAX_ATTEMPTS");
  else if (auto value = config.get(profile, "max_attempts"))
    retry.max_attempts = parse_max_attempts(*value, "max_attempts in profile " + profile);
  if (auto env = config.env("HOIST_RETRY_BASE_MS"); env && !env->empty()) retry.base = parse_retry_base(*env);
  session->retry = std::make_shared<RetryPolicy>(retry);

  if (auto env = config.env("AWS_CA_BUNDLE"); env && !env->empty())
    session->http.ca_bundle = *env;
  else if (auto value = config.get(profile, "ca_bundle"))
    session->http.ca_bundle = *value;
  return session;
}

Client::Client(std::shared_ptr<Session> session, Service service)
    : session_(std::move(session)), service_(std::move(service)) {
  if (!session_->credentials) throw Failure(Failure::config, "no AWS credentials configured");
  if (!session_->retry) session_->retry = std::make_shared<RetryPolicy>();
  endpoint_ = session_->config.endpoint(service_.id);
}

Client Client::for_transfer(std::shared_ptr<ConcurrencyLimit> limit) const {
  Client copy = *this;
  copy.transfer_ = std::move(limit);
  return copy;
}

HttpResponse Client::send(std::string_view operation, HttpRequest request, const CallOptions& options) {
  if (request.endpoint.empty()) request.endpoint = endpoint_;
  if (prepare_) prepare_(request);
  if (find_header(request.headers, "User-Agent").empty())
    request.headers.emplace_back("User-Agent", std::string("hoist/") + HOIST_VERSION);

  sigv4::SigningParams params;
  // Global services (IAM) sign for their partition's one region (us-east-1
  // in the commercial one) whatever the session's region.
  params.region = service_.global ? std::string(partition_of(session_->region).iam_region) : session_->region;
  params.service = service_.signing_name;
  params.s3_rules = service_.protocol == Protocol::rest_xml;
  params.unsigned_payload = options.unsigned_payload;
  params.payload_hash = options.payload_hash;
  // Hash a file body once, not on every attempt.
  if (request.body.from_file() && !params.unsigned_payload && params.payload_hash.empty())
    params.payload_hash = sha256_file(request.body.file, request.body.offset, request.body.length);

  RetryPolicy& policy = *session_->retry;
  ConcurrencyLimit* const limit = transfer_.get();
  const Headers unsigned_headers = request.headers;
  bool refreshed_credentials = false;
  bool adjusted_clock = false;
  bool last_retry_was_timeout = false;
  // A transfer's retries are bounded by time spent sending and backing off.
  std::chrono::milliseconds spent{0};
  // The delay before the next attempt, or nullopt to give up.
  auto retry_delay = [&](int attempt, Retryability kind, bool timeout, std::optional<std::chrono::milliseconds> hint,
                         bool unreachable) {
    if (limit != nullptr && !(unreachable && !limit->state().any_success))
      return policy.next_transfer_delay(attempt, kind, spent, hint);
    return policy.next_delay(attempt, kind, timeout, hint);
  };
  auto back_off = [&](std::chrono::milliseconds delay) {
    if (limit != nullptr) limit->backing_off(true);
    policy.sleep(delay);
    if (limit != nullptr) limit->backing_off(false);
    spent += delay;
  };
  // "after 2 attempts" or, for a transfer, "after 40 attempts in 301 s".
  auto attempts_text = [&](int attempt) {
    std::string text = std::to_string(attempt) + (attempt == 1 ? " attempt" : " attempts");
    if (limit != nullptr) text += " in " + seconds_text(spent);
    return text;
  };
  for (int attempt = 1;; ++attempt) {
    // Each attempt is signed afresh: a retry minutes later needs a new date.
    // Only the headers change, so the body is not copied per attempt.
    request.headers = unsigned_headers;
    Slot slot(limit, spent);
    params.time = std::chrono::system_clock::now() + std::chrono::milliseconds(session_->clock_offset_ms.load());
    sigv4::sign(request, session_->credentials->get(), params);

    HttpResponse response;
    try {
      response = http_send(request, session_->http);
    } catch (const TransportError& e) {
      slot.release(ConcurrencyLimit::Outcome::failed);
      log::verbose(attempt_line(service_, operation, "no response", attempt));
      const auto delay =
          e.retryable ? retry_delay(attempt, Retryability::transient, true, std::nullopt, e.unreachable) : std::nullopt;
      if (!delay)
        throw AwsError(service_.id, std::string(operation), "NetworkError",
                       "no response from " + request.endpoint + " after " + attempts_text(attempt) + ": " + e.what(),
                       "", 0);
      last_retry_was_timeout = true;
      back_off(*delay);
      continue;
    }

    const bool ok =
        (response.status >= 200 && response.status < 300) ||
        std::find(options.ok_statuses.begin(), options.ok_statuses.end(), response.status) != options.ok_statuses.end();
    if (ok) {
      slot.release(ConcurrencyLimit::Outcome::success);
      // Built only when shown: this line is on every request's path.
      if (log::level() >= log::Level::verbose)
        log::verbose(attempt_line(service_, operation, std::to_string(response.status), attempt));
      // A transfer's retries took no tokens: nothing to give back for them.
      policy.on_success(limit == nullptr && attempt > 1, last_retry_was_timeout);
      return response;
    }

    ErrorInfo error = parse_error(service_.protocol, response);
    const Retryability kind = classify(response.status, error.code);
    // S3 answers overload with 503 whatever the code (SlowDown, or none).
    slot.release(kind == Retryability::throttling || response.status == 503 ? ConcurrencyLimit::Outcome::throttled
                                                                            : ConcurrencyLimit::Outcome::failed);
    log::verbose(attempt_line(service_, operation, std::to_string(response.status) + " " + error.code, attempt));

    if (is_clock_skew_code(error.code) && !adjusted_clock) {
      if (auto aws_time = server_time(response)) {
        const auto skew = std::chrono::duration_cast<std::chrono::milliseconds>(*aws_time - params.time);
        if (std::chrono::abs(skew) > kClockSkewLimit) {
          // Sign with AWS's time from now on, and try once more, at once.
          adjusted_clock = true;
          const auto offset =
              std::chrono::duration_cast<std::chrono::milliseconds>(*aws_time - std::chrono::system_clock::now());
          if (session_->clock_offset_ms.exchange(offset.count()) == 0)
            log::warn("this computer's clock is " + seconds_text(std::chrono::abs(offset)) +
                      (offset.count() > 0 ? " behind" : " ahead of") +
                      " AWS's: hoist signs with AWS's time (set the clock right: AWS refuses requests "
                      "signed more than 5 minutes off)");
          --attempt;
          continue;
        }
      }
    }
    if (is_expired_token(error.code) && !refreshed_credentials) {
      // Credentials expired under us: fetch new ones and try once more, at once.
      refreshed_credentials = true;
      session_->credentials->invalidate();
      --attempt;
      continue;
    }
    const auto delay = retry_delay(attempt, kind, false, retry_after_hint(response.headers), false);
    if (!delay) {
      // A transfer that ran out of time says how long it kept trying.
      if (limit != nullptr && kind != Retryability::no)
        error.message +=
            (error.message.empty() ? "" : " ") + std::string("(gave up after ") + attempts_text(attempt) + ")";
      throw AwsError(service_.id, std::string(operation), error.code, error.message, error.request_id, response.status);
    }
    last_retry_was_timeout = false;
    back_off(*delay);
  }
}

}  // namespace hoist::aws
