// The follow state machine, without AWS and without clocks.
#include <gtest/gtest.h>

#include "job/follow.hpp"

using namespace hoist;
using Kind = job::FollowEvent::Kind;
using namespace std::chrono_literals;

namespace {

const job::Follow::Clock::time_point t0{};

job::JobStatus status(const std::string& phase, const std::vector<std::string>& phases,
                      std::optional<int> exit_code = std::nullopt) {
  nlohmann::json passed = nlohmann::json::object();
  for (const auto& p : phases) passed[p] = "2026-11-24T12:00:00Z";
  passed[phase] = "2026-11-24T12:00:01Z";
  nlohmann::json j = {{"phase", phase}, {"phases", passed}, {"exit_code", nullptr}};
  if (exit_code) j["exit_code"] = *exit_code;
  return job::JobStatus::from_json(j);
}

// The events as short words: "[running]", "logs", "lost:X", "back:12", "end:terminal".
std::vector<std::string> words(const job::FollowEvents& events) {
  std::vector<std::string> out;
  for (const auto& e : events) {
    switch (e.kind) {
      case Kind::phase:
        out.push_back("[" + e.phase + "]");
        break;
      case Kind::fetch_logs:
        out.emplace_back("logs");
        break;
      case Kind::contact_lost:
        out.push_back("lost:" + e.code);
        break;
      case Kind::contact_restored:
        out.push_back("back:" + std::to_string(e.away.count()));
        break;
      case Kind::ended:
        out.push_back(std::string("end:") + (e.end == job::WatchEnd::terminal  ? "terminal"
                                             : e.end == job::WatchEnd::lost    ? "lost"
                                             : e.end == job::WatchEnd::overdue ? "overdue"
                                                                               : "detached"));
        break;
    }
  }
  return out;
}

using Words = std::vector<std::string>;

TEST(Follow, NoStatusYetOnlyFetchesLogs) {
  job::Follow f(t0, 1h, 1000ms, "i-1");
  EXPECT_EQ(words(f.status_read(std::nullopt)), Words{"logs"});
  EXPECT_FALSE(f.over());
}

TEST(Follow, EachPhaseOnceInOrderEvenWhenSkippedBetweenTwoPolls) {
  job::Follow f(t0, 1h, 1000ms, "i-1");
  EXPECT_EQ(words(f.status_read(status("booting", {"launching"}))), (Words{"[launching]", "[booting]", "logs"}));
  // staging and building passed between two looks: both are still said, in
  // order, and the log right after running.
  EXPECT_EQ(words(f.status_read(status("running", {"launching", "booting", "staging", "building"}))),
            (Words{"[staging]", "[building]", "[running]", "logs", "logs"}));
  // The same phase again: nothing new but the log.
  EXPECT_EQ(words(f.status_read(status("running", {"launching", "booting", "staging", "building"}))), Words{"logs"});
  EXPECT_EQ(words(f.status_read(
                status("succeeded", {"launching", "booting", "staging", "building", "running", "uploading"}, 0))),
            (Words{"[uploading]", "logs", "logs", "[succeeded]", "end:terminal"}));
  EXPECT_TRUE(f.over());
  EXPECT_EQ(f.end(), job::WatchEnd::terminal);
  EXPECT_EQ(f.status().exit_code, 0);
}

TEST(Follow, ARecordSeenOnlyAtItsEndStillTellsEveryPhase) {
  job::Follow f(t0, 1h, 1000ms, "");
  EXPECT_EQ(words(f.status_read(status("failed", {"launching", "booting", "staging", "running"}, 3))),
            (Words{"[launching]", "[booting]", "[staging]", "[running]", "logs", "logs", "logs", "[failed]",
                   "end:terminal"}));
}

TEST(Follow, AnUnknownPhaseIsNeitherSaidNorAnEnd) {
  job::Follow f(t0, 1h, 1000ms, "i-1");
  EXPECT_EQ(words(f.status_read(status("rebooting", {"launching"}))), (Words{"[launching]", "logs"}));
  EXPECT_FALSE(f.over());
}

TEST(Follow, AnInstanceGoneWithoutATerminalStatusIsLostAfterItsGrace) {
  job::Follow f(t0, 1h, 1000ms, "i-1");
  f.status_read(status("running", {"launching", "booting"}));
  EXPECT_FALSE(f.instance_due(t0 + 9s));
  EXPECT_TRUE(f.instance_due(t0 + 10s));
  EXPECT_TRUE(f.instance_seen(job::InstanceSeen{"running", ""}, t0 + 10s).empty());
  EXPECT_FALSE(f.instance_due(t0 + 19s));
  // Seen ending: its last status write may still land.
  EXPECT_TRUE(f.instance_seen(job::InstanceSeen{"shutting-down", "Server.SpotInstanceTermination"}, t0 + 20s).empty());
  EXPECT_TRUE(f.instance_seen(job::InstanceSeen{"terminated", "Server.SpotInstanceTermination"}, t0 + 40s).empty());
  EXPECT_FALSE(f.over());
  // Not found at all, past the grace: lost, with the reason EC2 gave.
  EXPECT_EQ(words(f.instance_seen(std::nullopt, t0 + 51s)), Words{"end:lost"});
  EXPECT_EQ(f.end(), job::WatchEnd::lost);
  EXPECT_EQ(f.instance().reason, "Server.SpotInstanceTermination");
}

TEST(Follow, AnInstanceRunningAgainIsNotLost) {
  job::Follow f(t0, 1h, 1000ms, "i-1");
  f.instance_seen(job::InstanceSeen{"stopped", ""}, t0 + 10s);
  f.instance_seen(job::InstanceSeen{"running", ""}, t0 + 20s);
  EXPECT_TRUE(f.instance_seen(job::InstanceSeen{"stopped", ""}, t0 + 45s).empty());  // a new 30 s from here
  EXPECT_EQ(words(f.instance_seen(job::InstanceSeen{"stopped", ""}, t0 + 76s)), Words{"end:lost"});
}

TEST(Follow, WithoutAnInstanceItIsNeverLookedAt) {
  job::Follow f(t0, 1h, 1000ms, "");
  EXPECT_FALSE(f.instance_due(t0 + 1h));
}

TEST(Follow, LostContactIsSaidOnceBacksOffAndIsRestored) {
  job::Follow f(t0, 1h, 1000ms, "i-1");
  EXPECT_EQ(f.wait(), 1000ms);
  EXPECT_EQ(words(f.unreachable("RequestTimeout", t0 + 5s)), Words{"lost:RequestTimeout"});
  EXPECT_EQ(f.wait(), 2000ms);
  EXPECT_TRUE(f.unreachable("ServiceUnavailable", t0 + 7s).empty());
  EXPECT_EQ(f.wait(), 4000ms);
  for (int i = 0; i < 10; ++i) f.unreachable("x", t0 + 10s);
  EXPECT_EQ(f.wait(), 30000ms);  // at most
  EXPECT_EQ(words(f.reached(t0 + 65s)), Words{"back:60"});
  EXPECT_EQ(f.wait(), 1000ms);
  EXPECT_TRUE(f.reached(t0 + 66s).empty());  // said once
  EXPECT_FALSE(f.over());                    // the job goes on
}

TEST(Follow, OverdueOnceMaxRuntimeAndItsGraceHavePassed) {
  job::Follow f(t0, 1h, 1000ms, "i-1");
  EXPECT_TRUE(f.tick(t0 + 1h + 10min).empty());
  EXPECT_EQ(words(f.tick(t0 + 1h + 10min + 1s)), Words{"end:overdue"});
  EXPECT_EQ(f.end(), job::WatchEnd::overdue);
  EXPECT_TRUE(f.tick(t0 + 2h).empty());  // ended once
}

TEST(Follow, OverdueEvenWhileOutOfContact) {
  job::Follow f(t0, 60s, 1000ms, "i-1");
  f.unreachable("RequestTimeout", t0 + 1s);
  EXPECT_EQ(words(f.tick(t0 + 11min + 1s)), Words{"end:overdue"});
}

}  // namespace

namespace {
// A status of attempt `attempt` on `instance`, naming `successor` (or none).
job::JobStatus attempt_status(const std::string& phase, const std::vector<std::string>& phases, int attempt,
                              const std::string& instance, const std::string& successor = "") {
  auto j = status(phase, phases).raw;
  j["attempt"] = attempt;
  j["instance_id"] = instance;
  if (!successor.empty()) j["successor"] = {{"instance_id", successor}, {"attempt", attempt + 1}, {"spot", true}};
  return job::JobStatus::from_json(j);
}
}  // namespace

TEST(Follow, ARelaunchedAttemptIsFollowedOnItsOwnInstanceAndItsPhasesSaidAgain) {
  job::Follow f(t0, 1h, 1000ms, "i-1");
  f.status_read(attempt_status("running", {"launching", "booting", "staging", "building"}, 1, "i-1"));
  // Interrupted, its successor not yet named: not said, not an end; the
  // old instance going away is not lost while the record hands over.
  EXPECT_EQ(words(f.status_read(attempt_status("interrupted", {"booting", "running"}, 1, "i-1"))), Words{"logs"});
  EXPECT_TRUE(f.instance_seen(job::InstanceSeen{"terminated", "Server.SpotInstanceTermination"}, t0 + 10s).empty());
  EXPECT_TRUE(f.instance_seen(std::nullopt, t0 + 100s).empty());
  EXPECT_EQ(f.instance_id(), "i-1");
  // Named: said once, and the look moves to the successor at once.
  EXPECT_EQ(words(f.status_read(attempt_status("interrupted", {"booting", "running"}, 1, "i-1", "i-2"))),
            (Words{"[interrupted]", "logs"}));
  EXPECT_EQ(f.instance_id(), "i-2");
  EXPECT_TRUE(f.instance_due(t0 + 101s));
  EXPECT_TRUE(f.instance_seen(job::InstanceSeen{"pending", ""}, t0 + 101s).empty());
  EXPECT_TRUE(f.status_read(attempt_status("interrupted", {"booting", "running"}, 1, "i-1", "i-2")).size() == 1);
  // The second attempt's phases, each said again, in order.
  EXPECT_EQ(words(f.status_read(attempt_status("staging", {"booting"}, 2, "i-2"))),
            (Words{"[booting]", "[staging]", "logs"}));
  EXPECT_EQ(words(f.status_read(attempt_status("succeeded", {"booting", "staging", "running"}, 2, "i-2"))),
            (Words{"[running]", "logs", "logs", "logs", "[succeeded]", "end:terminal"}));
}

TEST(Follow, AnInterruptedAttemptWhoseSuccessorNeverComesIsLostInTheEnd) {
  job::Follow f(t0, 1h, 1000ms, "i-1");
  f.status_read(attempt_status("interrupted", {"booting", "running"}, 1, "i-1"));
  EXPECT_TRUE(f.instance_seen(std::nullopt, t0 + 10s).empty());
  EXPECT_TRUE(f.instance_seen(std::nullopt, t0 + 10s + job::Follow::kHandOverWithin).empty());
  EXPECT_EQ(words(f.instance_seen(std::nullopt, t0 + 11s + job::Follow::kHandOverWithin)), Words{"end:lost"});
}

TEST(Record, AttemptNotes) {
  EXPECT_EQ(attempt_status("running", {}, 1, "i-1").attempt_note(), "");
  EXPECT_EQ(attempt_status("running", {}, 2, "i-2").attempt_note(), " (attempt 2)");
  auto j = attempt_status("interrupted", {}, 1, "i-1", "i-2").raw;
  j["error"] = "spot interruption notice: terminate";
  j["checkpoint"] = {{"files", 3}};
  j["successor"]["zone"] = "us-east-1b";
  EXPECT_EQ(job::JobStatus::from_json(j).attempt_note(),
            " attempt 1 on i-1: spot interruption notice: terminate; checkpoint saved (3 files); attempt 2 launched: "
            "i-2 (spot, us-east-1b)");
}

TEST(Follow, AHandOverMissedBetweenTwoLooksIsStillSaidFromTheAttemptsLeft) {
  job::Follow f(t0, 1h, 1000ms, "i-1");
  f.status_read(attempt_status("running", {"launching", "booting"}, 1, "i-1"));
  auto next = attempt_status("booting", {}, 2, "i-2").raw;
  next["spot"] = true;
  next["attempts"] = {{{"attempt", 1},
                       {"instance_id", "i-1"},
                       {"ended", "interrupted"},
                       {"error", "spot interruption notice: terminate"},
                       {"checkpoint", {{"files", 2}}}}};
  EXPECT_EQ(words(f.status_read(job::JobStatus::from_json(next))), (Words{"[interrupted]", "[booting]", "logs"}));
  EXPECT_EQ(f.handover().attempt_note(),
            " attempt 1 on i-1: spot interruption notice: terminate; checkpoint saved (2 files); attempt 2 launched: "
            "i-2 (spot)");
  EXPECT_EQ(f.instance_id(), "i-2");
}
