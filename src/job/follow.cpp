#include "job/follow.hpp"

#include <algorithm>

namespace hoist::job {

Follow::Follow(Clock::time_point start, std::chrono::seconds max_runtime, std::chrono::milliseconds poll,
               bool watch_instance)
    : start_(start),
      max_runtime_(max_runtime),
      poll_(poll),
      watch_instance_(watch_instance),
      next_instance_check_(start + kInstanceEvery),
      wait_(poll) {}

FollowEvents Follow::finish(WatchEnd end) {
  end_ = end;
  return {FollowEvent::over(end)};
}

FollowEvents Follow::status_read(const std::optional<JobStatus>& status) {
  FollowEvents out;
  auto fetch = [&] { out.push_back(FollowEvent::fetch_logs()); };
  if (status) {
    status_ = *status;
    if (status->phase != last_phase_) {
      last_phase_ = status->phase;
      // Every progress phase reached, in order, even those passed between
      // two looks; the terminal one last, below.
      for (Phase p : kPhases) {
        if (is_terminal(p) || !status->reached(p)) continue;
        const std::string name(phase_name(p));
        if (!announced_.insert(name).second) continue;
        out.push_back(FollowEvent::reached(name));
        if (p == Phase::running) fetch();
      }
    }
  }
  fetch();
  if (status_.terminal()) {
    // The final chunk is uploaded before the terminal status: once more.
    fetch();
    out.push_back(FollowEvent::reached(status_.phase));
    auto ended = finish(WatchEnd::terminal);
    out.insert(out.end(), ended.begin(), ended.end());
  }
  return out;
}

bool Follow::instance_due(Clock::time_point now) const {
  return watch_instance_ && !over() && now >= next_instance_check_;
}

FollowEvents Follow::instance_seen(const std::optional<InstanceSeen>& instance, Clock::time_point now) {
  next_instance_check_ = now + kInstanceEvery;
  bool ending = true;  // not found: gone
  if (instance) {
    instance_ = *instance;
    ending = instance->state == "shutting-down" || instance->state == "terminated" || instance->state == "stopped";
  }
  if (ending && !ending_) ending_since_ = now;
  ending_ = ending;
  // The instance may end a moment before its last status write lands.
  if (ending_ && now - ending_since_ > kLostAfter) return finish(WatchEnd::lost);
  return {};
}

FollowEvents Follow::reached(Clock::time_point now) {
  wait_ = poll_;
  if (!out_) return {};
  out_ = false;
  return {FollowEvent::restored(std::chrono::duration_cast<std::chrono::seconds>(now - out_since_))};
}

FollowEvents Follow::unreachable(const std::string& code, Clock::time_point now) {
  wait_ = std::min(std::max(wait_ * 2, std::chrono::milliseconds(kShortestBackoff)),
                   std::chrono::milliseconds(kLongestBackoff));
  if (out_) return {};
  out_ = true;
  out_since_ = now;
  return {FollowEvent::lost(code)};
}

FollowEvents Follow::tick(Clock::time_point now) {
  if (over() || now - start_ <= max_runtime_ + kOverdueAfter) return {};
  return finish(WatchEnd::overdue);
}

}  // namespace hoist::job
