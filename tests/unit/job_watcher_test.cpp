#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "aws/s3.hpp"
#include "job/record.hpp"
#include "job/reporter.hpp"
#include "job/watcher.hpp"
#include "support/moto_server.hpp"

using namespace hoist;

namespace {

// A short job can pass several phases between two polls: the laptop still
// shows each one, in order, with the script's log right after [running].
TEST(Watch, PhasesInOrderWithTheLogAfterRunningEvenWhenSeenOnlyAtTheEnd) {
  auto session = test::MotoServer::instance().session();
  aws::S3 s3(session);
  const std::string bucket = "watch-order";
  s3.create_bucket(bucket, {});
  const std::string id = "demo-20261124-120000-abcd";
  nlohmann::json phases = nlohmann::json::object();
  for (const char* p : {"launching", "booting", "staging", "building", "running", "uploading", "succeeded"})
    phases[p] = "2026-11-24T12:00:00Z";
  nlohmann::json status = {{"job_id", id},
                           {"phase", "succeeded"},
                           {"phases", phases},
                           {"exit_code", 0},
                           {"error", nullptr},
                           {"instance_id", nullptr},
                           {"updated_at", "2026-11-24T12:00:05Z"}};
  s3.put_object(bucket, job::keys::job_logs(id) + "00000001.log", "hello from the script\n", "text/plain");
  s3.put_object(bucket, job::keys::status(id), status.dump(), "application/json");

  struct Recorder : job::SilentReporter {
    std::vector<std::string> seen;
    void phase(const std::string& phase, const job::JobStatus& /*status*/) override {
      seen.push_back("[" + phase + "]");
    }
    void log(std::string_view chunk) override { seen.emplace_back(chunk); }
  } recorder;
  auto result = job::watch(session, bucket, id, "", std::chrono::hours(1), recorder);
  const auto& seen = recorder.seen;
  EXPECT_EQ(result.end, job::WatchEnd::terminal);
  EXPECT_EQ(result.status.phase, "succeeded");
  const std::vector<std::string> want = {"[launching]", "[booting]",  "[staging]",
                                         "[building]",  "[running]",  "hello from the script\n",
                                         "[uploading]", "[succeeded]"};
  EXPECT_EQ(seen, want);
}

}  // namespace
