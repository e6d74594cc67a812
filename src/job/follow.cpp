#include "job/follow.hpp"

#include <algorithm>

namespace hoist::job {

Follow::Follow(Clock::time_point start, std::chrono::seconds max_runtime, std::chrono::milliseconds poll,
               std::string instance_id)
    : start_(start),
      max_runtime_(max_runtime),
      poll_(poll),
      instance_id_(std::move(instance_id)),
      next_instance_check_(start + kInstanceEvery),
      wait_(poll) {}

namespace {
// The interrupted record of the attempt before `next`'s, from the entry it
// left in `attempts`, naming `next`'s instance as its successor.
JobStatus handover_from(const JobStatus& next) {
  nlohmann::json j = {{"phase", phase_name(Phase::interrupted)}, {"attempt", next.attempt - 1}};
  if (const auto all = next.raw.find("attempts"); all != next.raw.end() && all->is_array()) {
    for (const auto& a : *all) {
      if (!a.is_object() || a.value("attempt", 0) != next.attempt - 1) continue;
      for (const char* key : {"instance_id", "error", "checkpoint"})
        if (a.contains(key)) j[key] = a[key];
    }
  }
  j["successor"] = {{"instance_id", next.instance_id},
                    {"attempt", next.attempt},
                    {"spot", next.raw.value("spot", false)},
                    {"zone", next.raw.contains("zone") ? next.raw["zone"] : nlohmann::json(nullptr)}};
  return JobStatus::from_json(j);
}
}  // namespace

FollowEvents Follow::finish(WatchEnd end) {
  end_ = end;
  return {FollowEvent::over(end)};
}

void Follow::look_at(const std::string& instance_id) {
  if (instance_id.empty() || instance_id == instance_id_) return;
  instance_id_ = instance_id;
  instance_ = {};
  ending_ = false;
  next_instance_check_ = Clock::time_point{};  // at the next round
}

FollowEvents Follow::status_read(const std::optional<JobStatus>& status) {
  FollowEvents out;
  auto fetch = [&] { out.push_back(FollowEvent::fetch_logs()); };
  if (status) {
    // A later attempt (a spot job relaunched): its phases start anew, on
    // its own instance.
    if (status->attempt > attempt_) {
      // Its predecessor's hand-over, when no look caught it.
      if (!announced_.contains(std::string(phase_name(Phase::interrupted)))) {
        handover_ = handover_from(*status);
        out.push_back(FollowEvent::reached(std::string(phase_name(Phase::interrupted))));
      }
      attempt_ = status->attempt;
      announced_.clear();
      last_phase_.clear();
      look_at(status->instance_id);
    }
    if (status->attempt == attempt_ && !status->successor.empty()) look_at(status->successor);
    status_ = *status;
    const bool named = !status->successor.empty();
    if (status->phase != last_phase_ && (status->phase != phase_name(Phase::interrupted) || named)) {
      last_phase_ = status->phase;
      // Every progress phase reached, in order, even those passed between
      // two looks; the terminal one last, below.
      for (Phase p : kPhases) {
        if (is_terminal(p) || !status->reached(p)) continue;
        if (p == Phase::interrupted && !named) continue;
        if (p == Phase::interrupted) handover_ = *status;
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
  return !instance_id_.empty() && !over() && now >= next_instance_check_;
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
  // The instance may end a moment before its last status write lands; an
  // interrupted one, before its record names the next attempt's.
  const bool handing_over = status_.phase == phase_name(Phase::interrupted);
  const std::chrono::seconds grace = handing_over ? kHandOverWithin : kLostAfter;
  if (ending_ && now - ending_since_ > grace) return finish(WatchEnd::lost);
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
