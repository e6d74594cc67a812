// job::run's order of steps and what it says between them, with a fake
// account behind RunSteps and a reporter that records.
#include <gtest/gtest.h>

#include "job/reporter.hpp"
#include "job/run.hpp"
#include "util/error.hpp"

using namespace hoist;
using Words = std::vector<std::string>;

namespace {

struct Recorder : job::SilentReporter {
  Words said;   // event kinds, and "question"
  Words texts;  // what a person would read
  bool answer = true;
  void say(const job::Event& e) override {
    said.push_back(e.kind);
    texts.push_back(e.text);
  }
  void warn(std::string_view text) override { said.push_back("warning:" + std::string(text)); }
  bool confirm(std::string_view /*question*/, bool /*fallback*/) override {
    said.emplace_back("question");
    texts.emplace_back("question");
    return answer;
  }
};

struct FakeSteps : job::RunSteps {
  Words calls;
  std::string fail_at;  // the step that throws
  job::WatchResult followed;
  void step(const std::string& name) {
    calls.push_back(name);
    if (fail_at == name) throw Fatal(Exit::aws, name + " failed");
  }
  void prepare(job::Job& job) override {
    step("prepare");
    job.project = "demo";
    job.plan.type.name = "t3.medium";
    job.plan.max_runtime = std::chrono::hours(1);
    job.options.max_runtime = std::chrono::hours(1);
  }
  void survey(job::Job& job) override {
    step("survey");
    job.id = "demo-20261124-120000-abcd";
    job.region = "us-east-1";
    job.bucket = "hoist-123456789012-us-east-1";
  }
  void describe(const job::Job& /*job*/) override { step("describe"); }
  void provision(job::Job& /*job*/) override { step("provision"); }
  job::Launched launch(job::Job& /*job*/) override {
    step("launch");
    return {"i-0123", "2026-11-24T12:00:00Z", "us-east-1a"};
  }
  void abandon(const job::Job& /*job*/) override { step("abandon"); }
  job::WatchResult follow(const job::Job& /*job*/, const job::Launched& launched) override {
    EXPECT_EQ(launched.instance_id, "i-0123");
    step("follow");
    return followed;
  }
  void collect(const job::Job& /*job*/, const job::Launched& /*launched*/) override { step("collect"); }
};

job::RunRequest request(bool dry_run = false, bool detach = false, bool yes = false) {
  job::RunRequest r;
  r.options.dry_run = dry_run;
  r.options.detach = detach;
  r.options.yes = yes;
  return r;
}

job::WatchResult ended(const std::string& phase, std::optional<int> exit_code) {
  job::WatchResult r;
  nlohmann::json j = {{"phase", phase}};
  if (exit_code) j["exit_code"] = *exit_code;
  r.status = job::JobStatus::from_json(j);
  return r;
}

TEST(Run, AWholeRunInOrder) {
  FakeSteps steps;
  steps.followed = ended("succeeded", 0);
  Recorder reporter;
  const auto out = job::run(request(), steps, reporter);
  EXPECT_EQ(steps.calls, (Words{"prepare", "survey", "provision", "launch", "follow", "collect"}));
  EXPECT_EQ(reporter.said, (Words{"plan", "job", "question", "launched", "ended"}));
  EXPECT_EQ(out.exit_status, 0);
  EXPECT_EQ(out.job_id, "demo-20261124-120000-abcd");
  EXPECT_TRUE(out.launched);
  EXPECT_FALSE(out.detached);
  EXPECT_EQ(reporter.texts.at(3), "launched i-0123 (t3.medium in us-east-1a)");
  EXPECT_TRUE(reporter.texts.at(4).starts_with("succeeded (exit 0) after ")) << reporter.texts.at(4);
}

TEST(Run, ADryRunCreatesNothing) {
  FakeSteps steps;
  Recorder reporter;
  const auto out = job::run(request(true), steps, reporter);
  EXPECT_EQ(steps.calls, (Words{"prepare", "survey", "describe"}));
  EXPECT_EQ(reporter.texts.back(), "dry run: nothing was created or launched");
  EXPECT_EQ(out.exit_status, 0);
  EXPECT_FALSE(out.launched);
}

TEST(Run, DecliningCreatesNothing) {
  FakeSteps steps;
  Recorder reporter;
  reporter.answer = false;
  const auto out = job::run(request(), steps, reporter);
  EXPECT_EQ(steps.calls, (Words{"prepare", "survey"}));
  EXPECT_EQ(reporter.texts.back(), "not launched");
  EXPECT_EQ(out.exit_status, static_cast<int>(Exit::cancelled));
}

TEST(Run, YesAsksNothing) {
  FakeSteps steps;
  steps.followed = ended("succeeded", 0);
  Recorder reporter;
  reporter.answer = false;  // never asked
  EXPECT_EQ(job::run(request(false, false, true), steps, reporter).exit_status, 0);
  EXPECT_EQ(reporter.said, (Words{"plan", "job", "launched", "ended"}));
}

TEST(Run, ASurveyThatFailsStopsBeforeAnythingIsMade) {
  FakeSteps steps;
  steps.fail_at = "survey";
  Recorder reporter;
  EXPECT_THROW(job::run(request(), steps, reporter), Fatal);
  EXPECT_EQ(steps.calls, (Words{"prepare", "survey"}));
  EXPECT_TRUE(reporter.said.empty());
}

TEST(Run, AFailedLaunchIsAbandonedAndTheErrorKept) {
  FakeSteps steps;
  steps.fail_at = "launch";
  Recorder reporter;
  try {
    job::run(request(), steps, reporter);
    FAIL() << "no error";
  } catch (const Fatal& e) {
    EXPECT_STREQ(e.what(), "launch failed");
  }
  EXPECT_EQ(steps.calls, (Words{"prepare", "survey", "provision", "launch", "abandon"}));
}

TEST(Run, AnAbandonThatFailsTooIsReportedAndTheLaunchErrorKept) {
  struct Both : FakeSteps {
    void abandon(const job::Job& /*job*/) override {
      calls.emplace_back("abandon");
      throw std::runtime_error("network down");
    }
  } steps;
  steps.fail_at = "launch";
  Recorder reporter;
  EXPECT_THROW(job::run(request(), steps, reporter), Fatal);
  ASSERT_FALSE(reporter.said.empty());
  EXPECT_NE(reporter.said.back().find("network down"), std::string::npos) << reporter.said.back();
}

TEST(Run, DetachReturnsAtLaunch) {
  FakeSteps steps;
  Recorder reporter;
  const auto out = job::run(request(false, true, true), steps, reporter);
  EXPECT_EQ(steps.calls, (Words{"prepare", "survey", "provision", "launch"}));
  EXPECT_TRUE(out.detached);
  EXPECT_EQ(out.exit_status, 0);
  EXPECT_EQ(reporter.said.back(), "detached");
}

TEST(Run, CtrlCWhileFollowingLetsGoWithoutCollecting) {
  FakeSteps steps;
  steps.followed.end = job::WatchEnd::detached;
  Recorder reporter;
  bool following = false;
  auto r = request(false, false, true);
  r.following = [&] { following = true; };
  const auto out = job::run(r, steps, reporter);
  EXPECT_TRUE(following);
  EXPECT_EQ(steps.calls, (Words{"prepare", "survey", "provision", "launch", "follow"}));
  EXPECT_TRUE(out.detached);
  EXPECT_EQ(out.exit_status, 130);
  EXPECT_EQ(reporter.said, (Words{"plan", "job", "launched", "interrupted", "note"}));
}

TEST(Run, AFollowErrorSaysWhereTheJobIsFirst) {
  FakeSteps steps;
  steps.fail_at = "follow";
  Recorder reporter;
  EXPECT_THROW(job::run(request(false, false, true), steps, reporter), Fatal);
  ASSERT_GE(reporter.texts.size(), 2U);
  EXPECT_TRUE(reporter.texts.back().starts_with("follow: hoist logs demo-20261124-120000-abcd -f"))
      << reporter.texts.back();
  EXPECT_NE(reporter.texts.at(reporter.texts.size() - 2).find("the job goes on in AWS"), std::string::npos);
}

// Every way a followed job ends, and hoist's exit status for it.
TEST(Run, ExitStatusForEachEnd) {
  auto lost = [](const std::string& reason) {
    job::WatchResult r;
    r.end = job::WatchEnd::lost;
    r.instance_state_reason = reason;
    return r;
  };
  EXPECT_EQ(job::exit_status_for(ended("succeeded", 0)), 0);
  EXPECT_EQ(job::exit_status_for(ended("failed", 3)), 3);  // the script's own
  EXPECT_EQ(job::exit_status_for(ended("failed", std::nullopt)), static_cast<int>(Exit::launch_failed));
  EXPECT_EQ(job::exit_status_for(ended("timed_out", std::nullopt)), static_cast<int>(Exit::timed_out));
  EXPECT_EQ(job::exit_status_for(ended("cancelled", std::nullopt)), static_cast<int>(Exit::cancelled));
  EXPECT_EQ(job::exit_status_for(ended("preempted", std::nullopt)), static_cast<int>(Exit::preempted));
  EXPECT_EQ(job::exit_status_for(lost("Server.SpotInstanceTermination")), static_cast<int>(Exit::preempted));
  EXPECT_EQ(job::exit_status_for(lost("Client.UserInitiatedShutdown")), static_cast<int>(Exit::job_lost));
  job::WatchResult overdue;
  overdue.end = job::WatchEnd::overdue;
  EXPECT_EQ(job::exit_status_for(overdue), static_cast<int>(Exit::timed_out));
}

TEST(Run, AFailedScriptIsCollectedAndItsStatusPassedOn) {
  FakeSteps steps;
  steps.followed = ended("failed", 3);
  Recorder reporter;
  const auto out = job::run(request(false, false, true), steps, reporter);
  EXPECT_EQ(steps.calls.back(), "collect");
  EXPECT_EQ(out.exit_status, 3);
}

}  // namespace
