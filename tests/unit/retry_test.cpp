// The retry policy against the SDKs' standard mode: which errors retry, how
// long to wait, and how the retry budget runs out.
#include "aws/retry.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <thread>
#include <vector>

#include "aws/error.hpp"

namespace hoist::aws {
namespace {

using std::chrono::milliseconds;

RetryPolicy::Options seeded(int max_attempts = 3) {
  RetryPolicy::Options o;
  o.max_attempts = max_attempts;
  o.seed = 42;
  return o;
}

TEST(Classify, ThrottlingCodesFromTheSdkList) {
  for (const char* code :
       {"Throttling", "ThrottlingException", "ThrottledException", "RequestThrottledException",
        "TooManyRequestsException", "ProvisionedThroughputExceededException", "TransactionInProgressException",
        "RequestLimitExceeded", "BandwidthLimitExceeded", "LimitExceededException", "RequestThrottled", "SlowDown",
        "PriorRequestNotComplete", "EC2ThrottledException"})
    EXPECT_EQ(classify(400, code), Retryability::throttling) << code;
  EXPECT_EQ(classify(503, "SlowDown"), Retryability::throttling);
  EXPECT_EQ(classify(429, ""), Retryability::throttling);
}

TEST(Classify, TransientCodesAndStatuses) {
  for (const char* code :
       {"RequestTimeout", "RequestTimeoutException", "InternalError", "InternalFailure", "ServiceUnavailable"})
    EXPECT_EQ(classify(400, code), Retryability::transient) << code;
  // S3's answer to two runs configuring one bucket at once says "Please try again".
  EXPECT_EQ(classify(409, "OperationAborted"), Retryability::transient);
  for (const char* code : {"BucketAlreadyExists", "BucketAlreadyOwnedByYou"})
    EXPECT_EQ(classify(409, code), Retryability::no) << code;
  // EC2's "no room in this zone" comes as a 500 but is the launcher's to handle (next zone).
  EXPECT_EQ(classify(500, "InsufficientInstanceCapacity"), Retryability::no);
  for (long status : {500L, 502L, 503L, 504L}) EXPECT_EQ(classify(status, ""), Retryability::transient) << status;
  EXPECT_EQ(classify(0, ""), Retryability::transient);  // connection error
}

TEST(Classify, ClientErrorsAreNotRetried) {
  EXPECT_EQ(classify(400, "ValidationError"), Retryability::no);
  EXPECT_EQ(classify(403, "AccessDenied"), Retryability::no);
  EXPECT_EQ(classify(404, "NoSuchKey"), Retryability::no);
  EXPECT_EQ(classify(501, "NotImplemented"), Retryability::no);
  EXPECT_EQ(classify(409, "BucketAlreadyExists"), Retryability::no);
}

TEST(RetryPolicy, FullJitterWithinTheExponentialCeiling) {
  RetryPolicy policy(seeded(10));
  for (int attempt = 1; attempt < 10; ++attempt) {
    const auto d = policy.next_delay(attempt, Retryability::transient, false, std::nullopt);
    ASSERT_TRUE(d);
    const long long ceiling = std::min<long long>(20'000, 1000LL << (attempt - 1));
    EXPECT_GE(d->count(), 0);
    EXPECT_LE(d->count(), ceiling) << attempt;
  }
}

TEST(RetryPolicy, JitterIsSpreadNotConstant) {
  RetryPolicy policy([] {
    auto o = seeded(1000);
    o.budget = 1'000'000;
    return o;
  }());
  long long low = 0;
  long long high = 0;
  for (int i = 0; i < 200; ++i) {
    const auto d = policy.next_delay(6, Retryability::throttling, false, std::nullopt);  // ceiling 20 s (capped)
    ASSERT_TRUE(d);
    ASSERT_LE(d->count(), 20'000);
    (d->count() < 10'000 ? low : high)++;
  }
  EXPECT_GT(low, 50);
  EXPECT_GT(high, 50);
}

TEST(RetryPolicy, StopsAtMaxAttemptsAndForNonRetryable) {
  RetryPolicy policy(seeded(3));
  EXPECT_TRUE(policy.next_delay(1, Retryability::transient, false, std::nullopt));
  EXPECT_TRUE(policy.next_delay(2, Retryability::transient, false, std::nullopt));
  EXPECT_FALSE(policy.next_delay(3, Retryability::transient, false, std::nullopt));
  EXPECT_FALSE(policy.next_delay(1, Retryability::no, false, std::nullopt));
}

TEST(RetryPolicy, BudgetCostsAndRefunds) {
  RetryPolicy policy(seeded(100));
  EXPECT_EQ(policy.budget_left(), 500);
  ASSERT_TRUE(policy.next_delay(1, Retryability::throttling, false, std::nullopt));
  EXPECT_EQ(policy.budget_left(), 495);
  ASSERT_TRUE(policy.next_delay(1, Retryability::transient, true, std::nullopt));
  EXPECT_EQ(policy.budget_left(), 485);
  policy.on_success(true, true);  // success after a timeout retry refunds 10
  EXPECT_EQ(policy.budget_left(), 495);
  policy.on_success(true, false);  // after a plain retry: 5
  EXPECT_EQ(policy.budget_left(), 500);
  policy.on_success(false);  // never above the maximum
  EXPECT_EQ(policy.budget_left(), 500);
  ASSERT_TRUE(policy.next_delay(1, Retryability::transient, false, std::nullopt));
  policy.on_success(false);  // plain success: 1
  EXPECT_EQ(policy.budget_left(), 496);
}

TEST(RetryPolicy, EmptyBudgetRefusesRetries) {
  RetryPolicy policy(seeded(100));
  int retries = 0;
  while (policy.next_delay(1, Retryability::transient, false, std::nullopt)) ++retries;
  EXPECT_EQ(retries, 100);  // 500 tokens / 5
  EXPECT_EQ(policy.budget_left(), 0);
  policy.on_success(false);
  policy.on_success(false);
  policy.on_success(false);
  policy.on_success(false);
  EXPECT_FALSE(policy.next_delay(1, Retryability::transient, false, std::nullopt));  // 4 < 5
  policy.on_success(false);
  EXPECT_TRUE(policy.next_delay(1, Retryability::transient, false, std::nullopt));
}

TEST(RetryPolicy, HintsAreHonouredButCapped) {
  RetryPolicy policy(seeded(10));
  auto d = policy.next_delay(1, Retryability::throttling, false, milliseconds(3000));
  ASSERT_TRUE(d);
  EXPECT_EQ(d->count(), 3000);  // above the first ceiling of 1 s: the hint wins
  d = policy.next_delay(1, Retryability::throttling, false, milliseconds(3'600'000));
  ASSERT_TRUE(d);
  EXPECT_EQ(d->count(), 20'000);
}

TEST(RetryPolicy, ATransferRetriesUntilItsTimeBudgetNotItsAttempts) {
  auto options = seeded(3);
  options.transfer_budget = milliseconds(60'000);
  RetryPolicy policy(options);
  for (int attempt = 1; attempt < 20; ++attempt) {
    const auto d = policy.next_transfer_delay(attempt, Retryability::throttling, milliseconds(59'999), std::nullopt);
    ASSERT_TRUE(d) << attempt;
    EXPECT_LE(d->count(), std::min<long long>(20'000, 1000LL << std::min(attempt - 1, 20)));
  }
  EXPECT_EQ(policy.budget_left(), 500);  // no tokens taken
  EXPECT_FALSE(policy.next_transfer_delay(2, Retryability::throttling, milliseconds(60'000), std::nullopt));
  EXPECT_FALSE(policy.next_transfer_delay(1, Retryability::no, milliseconds(0), std::nullopt));
  EXPECT_EQ(policy.next_transfer_delay(1, Retryability::transient, milliseconds(0), milliseconds(4000)),
            milliseconds(4000));
}

TEST(RetryBase, FromTheEnvironment) {
  ::setenv("HOIST_RETRY_BASE_MS", "20", 1);
  RetryPolicy policy;
  EXPECT_LE(policy.next_delay(1, Retryability::transient, false, std::nullopt), milliseconds(20));
  for (const char* bad : {"0", "60001", "fast"}) {
    ::setenv("HOIST_RETRY_BASE_MS", bad, 1);
    try {
      RetryPolicy p;
      FAIL() << bad << " accepted";
    } catch (const Failure& e) {
      EXPECT_EQ(e.kind(), Failure::config);
      EXPECT_NE(std::string(e.what()).find("HOIST_RETRY_BASE_MS"), std::string::npos);
    }
  }
  ::unsetenv("HOIST_RETRY_BASE_MS");
}

using Outcome = ConcurrencyLimit::Outcome;

TEST(ConcurrencyLimit, ThrottlingHalvesOncePerRoundAndSuccessesGrowItBack) {
  ConcurrencyLimit limit(8);
  std::vector<std::uint64_t> tickets;
  tickets.reserve(8);
  for (int i = 0; i < 8; ++i) tickets.push_back(limit.acquire());
  limit.release(tickets[0], Outcome::throttled);  // 8 were in flight: 4
  EXPECT_EQ(limit.state().limit, 4u);
  EXPECT_TRUE(limit.state().slowed());
  limit.release(tickets[1], Outcome::throttled);  // the same round: not again
  EXPECT_EQ(limit.state().limit, 4u);
  limit.release(tickets[2], Outcome::failed);  // a 500 or a reset: no change
  EXPECT_EQ(limit.state().limit, 4u);
  EXPECT_EQ(limit.state().throttles, 2u);
  for (int i = 3; i < 8; ++i) limit.release(tickets[i], Outcome::failed);
  // A request of the new round is throttled: 1 in flight, so 1 (never 0).
  limit.release(limit.acquire(), Outcome::throttled);
  EXPECT_EQ(limit.state().limit, 1u);
  for (int i = 0; i < 20; ++i) limit.release(limit.acquire(), Outcome::success);
  EXPECT_EQ(limit.state().limit, 8u);  // +1 per success, up to the maximum
  EXPECT_FALSE(limit.state().slowed());
  EXPECT_TRUE(limit.state().any_success);
}

TEST(ConcurrencyLimit, AcquireWaitsForRoomUnderTheLimit) {
  ConcurrencyLimit limit(2);
  const auto a = limit.acquire();
  limit.acquire();
  limit.release(a, Outcome::throttled);  // limit 1, one still in flight
  std::atomic<bool> got{false};
  std::thread waiter([&] {
    limit.release(limit.acquire(), Outcome::success);
    got = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_FALSE(got);
  EXPECT_EQ(limit.state().in_flight, 1u);
  limit.release(0, Outcome::success);
  waiter.join();
  EXPECT_TRUE(got);
  EXPECT_EQ(limit.state().in_flight, 0u);
}

TEST(RetryAfterHint, ReadsBothHeaders) {
  EXPECT_EQ(retry_after_hint({{"x-amz-retry-after", "1500"}}), milliseconds(1500));
  EXPECT_EQ(retry_after_hint({{"Retry-After", "2"}}), milliseconds(2000));
  EXPECT_EQ(retry_after_hint({{"Retry-After", "Wed, 21 Oct 2015 07:28:00 GMT"}}), std::nullopt);
  EXPECT_EQ(retry_after_hint({{"Retry-After", "-3"}}), std::nullopt);
  EXPECT_EQ(retry_after_hint({}), std::nullopt);
}

TEST(MaxAttempts, FromTheEnvironment) {
  ::setenv("AWS_MAX_ATTEMPTS", "7", 1);
  EXPECT_EQ(RetryPolicy().max_attempts(), 7);
  ::setenv("AWS_MAX_ATTEMPTS", "0", 1);
  try {
    RetryPolicy policy;
    FAIL() << "0 accepted";
  } catch (const Failure& e) {
    EXPECT_EQ(e.kind(), Failure::config);
    EXPECT_NE(std::string(e.what()).find("AWS_MAX_ATTEMPTS"), std::string::npos);
  }
  ::setenv("AWS_MAX_ATTEMPTS", "three", 1);
  EXPECT_THROW(RetryPolicy(), Failure);
  ::setenv("AWS_MAX_ATTEMPTS", "3x", 1);
  EXPECT_THROW(RetryPolicy(), Failure);
  ::unsetenv("AWS_MAX_ATTEMPTS");
  EXPECT_EQ(RetryPolicy().max_attempts(), 3);
}

}  // namespace
}  // namespace hoist::aws
