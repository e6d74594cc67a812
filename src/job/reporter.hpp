#pragma once
// The only way the job layer speaks. A workflow (job::run, cancel, gc,
// down) tells its Reporter what happens; the command line's reporters
// (cli/reporters.hpp) write it for a person, TTY or plain, or as JSON lines
// for a program; a dashboard would have its own.
#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace hoist::job {

struct JobStatus;
struct StageStats;

// One thing that happened, for a person (`text`) and for a program (`kind`,
// `data`). Kinds a program may rely on: "plan", "job", "staged", "launched",
// "ended", "outputs", "cost", "detached"; any other is "note".
struct Event {
  std::string kind = "note";
  std::string text;
  nlohmann::json data = nlohmann::json::object();
};

class Reporter {
 public:
  Reporter() = default;
  Reporter(const Reporter&) = delete;
  Reporter& operator=(const Reporter&) = delete;
  virtual ~Reporter() = default;

  virtual void say(const Event& event) = 0;
  void note(std::string text) { say({"note", std::move(text), nlohmann::json::object()}); }
  // Something the user should act on, or know went less well than asked.
  virtual void warn(std::string_view text) = 0;
  // Detail for -v: what was done and why, not needed to follow the job.
  virtual void detail(std::string_view text) = 0;
  // The upload so far (called again and again while it runs).
  virtual void staging(const StageStats& progress) = 0;
  // The job reached a phase (each once, in order).
  virtual void phase(const std::string& phase, const JobStatus& status) = 0;
  // Output of the job's script, as the instance shipped it.
  virtual void log(std::string_view chunk) = 0;
  // AWS cannot be reached (the job goes on meanwhile); then it can again.
  virtual void contact_lost(std::string_view code) = 0;
  virtual void contact_restored(std::chrono::seconds away) = 0;
  // A yes/no question before something that costs or destroys. `fallback` is
  // the answer when nobody can be asked (and what an empty answer means).
  virtual bool confirm(std::string_view question, bool fallback) = 0;
};

// Says nothing and answers every question with its fallback.
class SilentReporter : public Reporter {
 public:
  void say(const Event& /*event*/) override {}
  void warn(std::string_view /*text*/) override {}
  void detail(std::string_view /*text*/) override {}
  void staging(const StageStats& /*progress*/) override {}
  void phase(const std::string& /*phase*/, const JobStatus& /*status*/) override {}
  void log(std::string_view /*chunk*/) override {}
  void contact_lost(std::string_view /*code*/) override {}
  void contact_restored(std::chrono::seconds /*away*/) override {}
  bool confirm(std::string_view /*question*/, bool fallback) override { return fallback; }
};

}  // namespace hoist::job
