#pragma once
// One retry policy for every AWS call, as the AWS SDKs' "standard" mode:
// max attempts (AWS_MAX_ATTEMPTS, default 3), exponential back-off with full
// jitter capped at 20 s, a token-bucket retry budget shared by all calls, the
// SDKs' lists of throttling and transient errors, connection errors, and
// retry-after hints (Retry-After / x-amz-retry-after).
#include <chrono>
#include <functional>
#include <mutex>
#include <optional>
#include <random>
#include <string>

#include "aws/http.hpp"

namespace hoist::aws {

enum class Retryability { no, transient, throttling };

// code: AWS error code, or empty; status: HTTP status, 0 for no response
// (a connection error: transient).
Retryability classify(long http_status, std::string_view code);

// The server's hint of when to come back: x-amz-retry-after (milliseconds)
// or Retry-After (seconds; the HTTP-date form is ignored).
std::optional<std::chrono::milliseconds> retry_after_hint(const Headers& headers);

// AWS_MAX_ATTEMPTS / max_attempts: a whole number >= 1. Throws
// Fatal(Exit::config) naming `source` otherwise.
int parse_max_attempts(std::string_view value, std::string_view source);

class RetryPolicy {
 public:
  struct Options {
    int max_attempts = 3;
    std::chrono::milliseconds base{1000};  // SDK standard: random * 2^attempt seconds
    std::chrono::milliseconds cap{20'000};
    int budget = 500;  // retry quota tokens
    int retry_cost = 5;
    int timeout_retry_cost = 10;
    int success_refund = 1;
    std::uint64_t seed = 0;  // jitter seed; 0 = random (tests fix it)
  };
  RetryPolicy();  // reads AWS_MAX_ATTEMPTS
  explicit RetryPolicy(Options options);

  [[nodiscard]] int max_attempts() const { return options_.max_attempts; }
  // The delay before attempt `attempt+1` (attempt counts from 1), honouring a
  // server hint, or nullopt when no retry should be made (attempts or budget
  // exhausted, not retryable). Takes tokens from the budget when it says yes:
  // timeout_retry_cost when `timeout` (timeouts and connection errors), else
  // retry_cost. Delay = random(0,1) * min(cap, base * 2^(attempt-1)); a hint
  // raises it up to the hint, but never past cap.
  std::optional<std::chrono::milliseconds> next_delay(int attempt, Retryability kind, bool timeout,
                                                      std::optional<std::chrono::milliseconds> hint);
  // Refunds the budget: the last retry's cost after a retried call (10 when
  // that retry followed a timeout/connection error), else success_refund.
  void on_success(bool was_retry, bool last_retry_was_timeout = false);
  [[nodiscard]] int budget_left() const;

  // Overridable in tests, so they need not sleep.
  std::function<void(std::chrono::milliseconds)> sleep;

 private:
  Options options_;
  mutable std::mutex mutex_;
  int tokens_;
  std::mt19937_64 rng_;
};

}  // namespace hoist::aws
