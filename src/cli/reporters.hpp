#pragma once
// The command line's reporters: the one writer of what the job layer says.
#include <chrono>
#include <iosfwd>
#include <mutex>

#include "job/reporter.hpp"

namespace hoist::cli {

// For a person: "hoist: " lines on stderr (quiet with -q, detail with -v),
// the upload's progress redrawn in place on a terminal, the script's output
// on stdout, and questions asked on the terminal.
class TerminalReporter : public job::Reporter {
 public:
  struct Options {
    bool phases = true;  // say each phase the job reaches (`logs -f` does not)
  };
  TerminalReporter();
  explicit TerminalReporter(Options options);
  void say(const job::Event& event) override;
  void warn(std::string_view text) override;
  void detail(std::string_view text) override;
  void staging(const job::StageStats& progress) override;
  void phase(const std::string& phase, const job::JobStatus& status) override;
  void log(std::string_view chunk) override;
  void contact_lost(std::string_view code) override;
  void contact_restored(std::chrono::seconds away) override;
  // A question that defaults to yes is asked only on a terminal (stdin and
  // stderr); one that defaults to no reads stdin whatever it is, so that
  // `yes | hoist down` answers it and an empty stdin says no.
  bool confirm(std::string_view question, bool fallback) override;

 private:
  void end_progress();
  Options options_;
  bool tty_;
  bool progress_open_ = false;
  std::mutex mutex_;
};

// For a program (`--json`): one JSON object a line on stdout, each with an
// "event" ("note", "plan", "phase", "log", "warning", ...) and a "message"
// where a person would read one. Questions get their fallback: a script
// says --yes.
class JsonReporter : public job::Reporter {
 public:
  explicit JsonReporter(std::ostream& out);
  void say(const job::Event& event) override;
  void warn(std::string_view text) override;
  void detail(std::string_view text) override;
  void staging(const job::StageStats& progress) override;
  void phase(const std::string& phase, const job::JobStatus& status) override;
  void log(std::string_view chunk) override;
  void contact_lost(std::string_view code) override;
  void contact_restored(std::chrono::seconds away) override;
  bool confirm(std::string_view question, bool fallback) override;

 private:
  void emit(const nlohmann::json& line);
  std::ostream& out_;
  std::mutex mutex_;
  std::chrono::steady_clock::time_point last_progress_{};
};

}  // namespace hoist::cli
