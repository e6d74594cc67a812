#pragma once
// Following a job, as a state machine: what one look at the job found goes
// in (its status, its instance's state, an AWS that cannot be reached, the
// time), what to do and say comes out. No AWS, no clock, no sleep: the poll
// loop around it (watcher.hpp's watch) does those, and tests drive it alone.
#include <chrono>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "job/record.hpp"

namespace hoist::job {

enum class WatchEnd { terminal, detached, lost, overdue };

struct FollowEvent {
  enum class Kind {
    phase,             // the job reached `phase` (each once, in order)
    fetch_logs,        // read the log chunks shipped since the last fetch
    contact_lost,      // AWS cannot be reached (`code` says why)
    contact_restored,  // and now it can, after `away`
    ended,             // following is over: `end`
  };
  Kind kind;
  std::string phase;
  std::string code;
  std::chrono::seconds away{0};
  WatchEnd end = WatchEnd::terminal;
  bool operator==(const FollowEvent&) const = default;

  static FollowEvent reached(std::string phase) { return {Kind::phase, std::move(phase), "", {}, {}}; }
  static FollowEvent fetch_logs() { return {Kind::fetch_logs, "", "", {}, {}}; }
  static FollowEvent lost(std::string code) { return {Kind::contact_lost, "", std::move(code), {}, {}}; }
  static FollowEvent restored(std::chrono::seconds away) { return {Kind::contact_restored, "", "", away, {}}; }
  static FollowEvent over(WatchEnd end) { return {Kind::ended, "", "", {}, end}; }
};
using FollowEvents = std::vector<FollowEvent>;

// What EC2 says of the job's instance: its state and the reason code
// ("Server.SpotInstanceTermination", ...); nullopt when it is not found.
struct InstanceSeen {
  std::string state;
  std::string reason;
};

class Follow {
 public:
  using Clock = std::chrono::steady_clock;
  // How long an ended instance may stay without a terminal status (its last
  // write may land a moment after it stops), how often the instance is
  // looked at, how long past max_runtime the job may go on, and the waits
  // between polls while AWS cannot be reached.
  static constexpr auto kLostAfter = std::chrono::seconds(30);
  // How long an interrupted attempt's instance may be gone before its
  // status names the next attempt's (a spot notice comes two minutes ahead).
  static constexpr auto kHandOverWithin = std::chrono::minutes(3);
  static constexpr auto kInstanceEvery = std::chrono::seconds(10);
  static constexpr auto kOverdueAfter = std::chrono::minutes(10);
  static constexpr auto kShortestBackoff = std::chrono::milliseconds(2000);
  static constexpr auto kLongestBackoff = std::chrono::milliseconds(30000);

  // `instance_id`: the instance to look at ("" when none is known). A
  // status of a later attempt, or one naming its successor, moves the look
  // to that attempt's instance.
  Follow(Clock::time_point start, std::chrono::seconds max_runtime, std::chrono::milliseconds poll,
         std::string instance_id);

  // The status as read now (nullopt: not written yet, or being written).
  // Every phase reached since the last, in order, with a log fetch right
  // after running (the instance ships the script's log before it leaves
  // running), then a fetch; at a terminal status a last fetch, the phase and
  // the end. A new attempt's phases are said again; `interrupted` once the
  // record names the next attempt's instance.
  FollowEvents status_read(const std::optional<JobStatus>& status);
  // Whether the instance is due for a look.
  [[nodiscard]] bool instance_due(Clock::time_point now) const;
  // What EC2 said of it: lost once it has been ending for kLostAfter.
  FollowEvents instance_seen(const std::optional<InstanceSeen>& instance, Clock::time_point now);
  // One whole look succeeded: contact is back if it was lost.
  FollowEvents reached(Clock::time_point now);
  // A look failed only because AWS cannot be reached now.
  FollowEvents unreachable(const std::string& code, Clock::time_point now);
  // End of a round: overdue once the job outlived max_runtime by kOverdueAfter.
  FollowEvents tick(Clock::time_point now);

  [[nodiscard]] bool over() const { return end_.has_value(); }
  [[nodiscard]] std::optional<WatchEnd> end() const { return end_; }
  // How long to wait before the next look.
  [[nodiscard]] std::chrono::milliseconds wait() const { return wait_; }
  [[nodiscard]] const JobStatus& status() const { return status_; }
  [[nodiscard]] const InstanceSeen& instance() const { return instance_; }
  // The record of the last hand-over said (`interrupted`): the status that
  // named the successor, or, when the next attempt's status came first,
  // one made from its `attempts`.
  [[nodiscard]] const JobStatus& handover() const { return handover_; }
  // The instance looked at now.
  [[nodiscard]] const std::string& instance_id() const { return instance_id_; }

 private:
  FollowEvents finish(WatchEnd end);
  void look_at(const std::string& instance_id);

  Clock::time_point start_;
  std::chrono::seconds max_runtime_;
  std::chrono::milliseconds poll_;
  std::string instance_id_;
  int attempt_ = 1;
  Clock::time_point next_instance_check_;
  std::string last_phase_;
  std::set<std::string> announced_;
  JobStatus status_;
  JobStatus handover_;
  InstanceSeen instance_;
  bool ending_ = false;  // the instance was seen ending since `ending_since_`
  Clock::time_point ending_since_{};
  bool out_ = false;  // out of contact with AWS since `out_since_`
  Clock::time_point out_since_{};
  std::chrono::milliseconds wait_;
  std::optional<WatchEnd> end_;
};

}  // namespace hoist::job
