#pragma once
// One retry policy for every AWS call, as the AWS SDKs' "standard" mode:
// max attempts (AWS_MAX_ATTEMPTS, default 3), exponential back-off with full
// jitter capped at 20 s, a token-bucket retry budget shared by all calls, the
// SDKs' lists of throttling and transient errors, connection errors, and
// retry-after hints (Retry-After / x-amz-retry-after).
//
// Besides it, a second class for the idempotent requests of a bulk transfer
// (a file's PUT, a part, a ranged GET): throttling comes in streaks on one
// prefix, and an upload of thousands of files must not fail because one of
// them met three faults in a row, so those retry with the same back-off
// until a time budget (minutes) is spent, outside the token bucket. And a
// ConcurrencyLimit through which a transfer's requests slow down on
// throttling and speed up again as they succeed.
#include <chrono>
#include <condition_variable>
#include <cstdint>
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
// Failure (config) naming `source` otherwise.
int parse_max_attempts(std::string_view value, std::string_view source);

// HOIST_RETRY_BASE_MS: the back-off base in milliseconds, 1 to 60000
// (default 1000; tests that meet hundreds of faults shorten it). Throws
// Failure (config) otherwise.
std::chrono::milliseconds parse_retry_base(std::string_view value);

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
    // How long an idempotent transfer request keeps retrying, counted in
    // time spent sending and backing off (not waiting for a slot).
    std::chrono::milliseconds transfer_budget{5 * 60'000};
    std::uint64_t seed = 0;  // jitter seed; 0 = random (tests fix it)
  };
  RetryPolicy();  // reads AWS_MAX_ATTEMPTS and HOIST_RETRY_BASE_MS
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
  // The delay before the next attempt of an idempotent transfer request that
  // has spent `spent` so far, or nullopt when it is not retryable or its
  // transfer_budget is spent. Attempts are not counted and the token bucket
  // is neither drawn nor refunded: the budget of time bounds it.
  std::optional<std::chrono::milliseconds> next_transfer_delay(int attempt, Retryability kind,
                                                               std::chrono::milliseconds spent,
                                                               std::optional<std::chrono::milliseconds> hint);
  [[nodiscard]] int budget_left() const;

  // Overridable in tests, so they need not sleep.
  std::function<void(std::chrono::milliseconds)> sleep;

 private:
  Options options_;
  std::chrono::milliseconds jittered(int attempt, std::optional<std::chrono::milliseconds> hint);

  mutable std::mutex mutex_;
  int tokens_;
  std::mt19937_64 rng_;
};

// How many requests of one transfer may be in flight, adapted as TCP adapts
// its window (AIMD): a throttling answer halves the limit (never below 1),
// each success raises it by one, up to the maximum. Only one halving per
// round: an answer to a request sent before the last halving does not halve
// again, so a burst of throttles from one full window counts once.
class ConcurrencyLimit {
 public:
  explicit ConcurrencyLimit(std::size_t max);
  ConcurrencyLimit(const ConcurrencyLimit&) = delete;
  ConcurrencyLimit& operator=(const ConcurrencyLimit&) = delete;

  enum class Outcome { success, throttled, failed };
  // Waits for room, then takes a slot; the ticket goes back to release.
  std::uint64_t acquire();
  void release(std::uint64_t ticket, Outcome outcome);
  // A request begins (true) or ends (false) a back-off wait.
  void backing_off(bool begins);

  struct State {
    std::size_t limit = 0, max = 0, in_flight = 0, backing_off = 0;
    std::uint64_t throttles = 0;  // throttling answers so far
    bool any_success = false;
    // Slowed down by throttling and not yet back to the maximum.
    [[nodiscard]] bool slowed() const { return limit < max; }
  };
  [[nodiscard]] State state() const;

  // Called (without the lock held) after each halving, so a progress line
  // can say so before any byte moves again. Set before the transfer starts.
  std::function<void()> on_slow_down;

 private:
  mutable std::mutex mutex_;
  std::condition_variable room_;
  State state_;
  std::uint64_t round_ = 0;  // bumped by each halving
};

}  // namespace hoist::aws
