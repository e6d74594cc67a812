#include "aws/retry.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <thread>

#include "aws/error.hpp"

namespace hoist::aws {
namespace {

// botocore/retries/standard.py ThrottledRetryableChecker._THROTTLED_ERROR_CODES.
constexpr std::array<std::string_view, 14> kThrottlingCodes = {
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "TransactionInProgressException",
    "RequestLimitExceeded",
    "BandwidthLimitExceeded",
    "LimitExceededException",
    "RequestThrottled",
    "SlowDown",
    "PriorRequestNotComplete",
    "EC2ThrottledException",
};
// TransientRetryableChecker._TRANSIENT_ERROR_CODES, plus the codes of AWS's
// own server faults, so they retry whatever status carries them, plus S3's
// OperationAborted (409, "A conflicting conditional operation is currently in
// progress against this resource. Please try again."): what S3 answers when
// two requests configure one bucket at once, as two first runs do.
constexpr std::array<std::string_view, 7> kTransientCodes = {
    "RequestTimeout",  "RequestTimeoutException", "PriorRequestNotComplete", "InternalError",
    "InternalFailure", "ServiceUnavailable",      "OperationAborted",
};
constexpr std::array<long, 4> kTransientStatuses = {500, 502, 503, 504};

template <typename Array, typename T>
bool contains(const Array& array, const T& value) {
  return std::find(array.begin(), array.end(), value) != array.end();
}

std::optional<long long> parse_integer(std::string_view text) {
  long long value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

RetryPolicy::Options options_from_environment() {
  RetryPolicy::Options options;
  if (const char* value = std::getenv("AWS_MAX_ATTEMPTS"); value != nullptr && *value != '\0')
    options.max_attempts = parse_max_attempts(value, "AWS_MAX_ATTEMPTS");
  if (const char* value = std::getenv("HOIST_RETRY_BASE_MS"); value != nullptr && *value != '\0')
    options.base = parse_retry_base(value);
  return options;
}

}  // namespace

Retryability classify(long http_status, std::string_view code) {
  if (contains(kThrottlingCodes, code)) return Retryability::throttling;
  // EC2 sends these with HTTP 500, but the same request seconds later rarely
  // finds room; the launcher's better move is another zone (or the user's:
  // another type), so they are not resent here.
  if (is_capacity_code(code)) return Retryability::no;
  // 429 without a code is throttling too (the SDKs' "too_many_requests").
  if (http_status == 429) return Retryability::throttling;
  if (contains(kTransientCodes, code)) return Retryability::transient;
  if (contains(kTransientStatuses, http_status)) return Retryability::transient;
  if (http_status == 0) return Retryability::transient;  // no response: connection error
  return Retryability::no;
}

std::optional<std::chrono::milliseconds> retry_after_hint(const Headers& headers) {
  if (auto ms = parse_integer(find_header(headers, "x-amz-retry-after")); ms && *ms >= 0)
    return std::chrono::milliseconds(*ms);
  if (auto s = parse_integer(find_header(headers, "Retry-After")); s && *s >= 0 && *s < 86'400)
    return std::chrono::milliseconds(*s * 1000);
  return std::nullopt;
}

int parse_max_attempts(std::string_view value, std::string_view source) {
  const auto parsed = parse_integer(value);
  if (!parsed || *parsed < 1 || *parsed > 100)
    throw Failure(Failure::config,
                  std::string(source) + " must be a whole number from 1 to 100 (got \"" + std::string(value) + "\")");
  return static_cast<int>(*parsed);
}

std::chrono::milliseconds parse_retry_base(std::string_view value) {
  const auto parsed = parse_integer(value);
  if (!parsed || *parsed < 1 || *parsed > 60'000)
    throw Failure(Failure::config,
                  "HOIST_RETRY_BASE_MS must be a whole number of milliseconds from 1 to 60000 (got \"" +
                      std::string(value) + "\"); unset it for the default of 1000");
  return std::chrono::milliseconds(*parsed);
}

RetryPolicy::RetryPolicy() : RetryPolicy(options_from_environment()) {}

RetryPolicy::RetryPolicy(Options options)
    : sleep([](std::chrono::milliseconds d) { std::this_thread::sleep_for(d); }),
      options_(options),
      tokens_(options.budget),
      rng_(options.seed != 0 ? options.seed : std::random_device{}()) {}

std::optional<std::chrono::milliseconds> RetryPolicy::next_delay(int attempt, Retryability kind, bool timeout,
                                                                 std::optional<std::chrono::milliseconds> hint) {
  if (kind == Retryability::no || attempt >= options_.max_attempts) return std::nullopt;
  const int cost = timeout ? options_.timeout_retry_cost : options_.retry_cost;
  std::lock_guard lock(mutex_);
  // The budget stops retry storms: when the service is down, fail fast.
  if (tokens_ < cost) return std::nullopt;
  tokens_ -= cost;
  return jittered(attempt, hint);
}

std::optional<std::chrono::milliseconds> RetryPolicy::next_transfer_delay(
    int attempt, Retryability kind, std::chrono::milliseconds spent, std::optional<std::chrono::milliseconds> hint) {
  if (kind == Retryability::no || spent >= options_.transfer_budget) return std::nullopt;
  std::lock_guard lock(mutex_);
  return jittered(attempt, hint);
}

// Full jitter: random(0,1) * min(cap, base * 2^(attempt-1)); a hint raises
// it, never past cap. Called with mutex_ held (the generator is shared).
std::chrono::milliseconds RetryPolicy::jittered(int attempt, std::optional<std::chrono::milliseconds> hint) {
  const double ceiling = std::min(static_cast<double>(options_.cap.count()),
                                  static_cast<double>(options_.base.count()) * std::exp2(std::min(attempt, 64) - 1));
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  auto delay = std::chrono::milliseconds(static_cast<long long>(unit(rng_) * ceiling));
  if (hint) delay = std::max(delay, std::min(*hint, options_.cap));
  return delay;
}

void RetryPolicy::on_success(bool was_retry, bool last_retry_was_timeout) {
  const int refund = !was_retry               ? options_.success_refund
                     : last_retry_was_timeout ? options_.timeout_retry_cost
                                              : options_.retry_cost;
  std::lock_guard lock(mutex_);
  tokens_ = std::min(options_.budget, tokens_ + refund);
}

int RetryPolicy::budget_left() const {
  std::lock_guard lock(mutex_);
  return tokens_;
}

ConcurrencyLimit::ConcurrencyLimit(std::size_t max) {
  state_.max = std::max<std::size_t>(max, 1);
  state_.limit = state_.max;
}

std::uint64_t ConcurrencyLimit::acquire() {
  std::unique_lock lock(mutex_);
  room_.wait(lock, [this] { return state_.in_flight < state_.limit; });
  ++state_.in_flight;
  return round_;
}

void ConcurrencyLimit::release(std::uint64_t ticket, Outcome outcome) {
  bool halved = false;
  {
    std::lock_guard lock(mutex_);
    --state_.in_flight;
    if (outcome == Outcome::success) {
      state_.any_success = true;
      state_.limit = std::min(state_.max, state_.limit + 1);
    } else if (outcome == Outcome::throttled) {
      ++state_.throttles;
      if (ticket == round_) {
        // Half of what was really in flight, not of a limit never reached.
        state_.limit = std::max<std::size_t>(1, std::min(state_.limit, state_.in_flight + 1) / 2);
        ++round_;
        halved = true;
      }
    }
  }
  room_.notify_all();
  if (halved && on_slow_down) on_slow_down();
}

void ConcurrencyLimit::backing_off(bool begins) {
  std::lock_guard lock(mutex_);
  if (begins)
    ++state_.backing_off;
  else if (state_.backing_off > 0)
    --state_.backing_off;
}

ConcurrencyLimit::State ConcurrencyLimit::state() const {
  std::lock_guard lock(mutex_);
  return state_;
}

}  // namespace hoist::aws
