#include "cli/reporters.hpp"

#include <unistd.h>

#include <iostream>

#include "job/project.hpp"
#include "job/record.hpp"
#include "job/staging.hpp"
#include "util/log.hpp"
#include "util/text.hpp"

namespace hoist::cli {

TerminalReporter::TerminalReporter() : TerminalReporter(Options{}) {}

TerminalReporter::TerminalReporter(Options options) : options_(options), tty_(::isatty(STDERR_FILENO) == 1) {}

void TerminalReporter::end_progress() {
  if (!progress_open_) return;
  std::cerr << "\r\x1b[K" << std::flush;
  progress_open_ = false;
}

void TerminalReporter::say(const job::Event& event) {
  std::lock_guard lock(mutex_);
  end_progress();
  // After a Ctrl-C, on a line of its own (the terminal echoed ^C).
  if (event.kind == "interrupted") std::cerr << "\n";
  log::info("hoist: " + event.text);
}

void TerminalReporter::warn(std::string_view text) {
  std::lock_guard lock(mutex_);
  end_progress();
  log::warn(text);
}

void TerminalReporter::detail(std::string_view text) {
  std::lock_guard lock(mutex_);
  if (log::level() < log::Level::verbose) return;
  end_progress();
  log::verbose(text);
}

void TerminalReporter::staging(const job::StageStats& s) {
  if (!tty_ || log::level() < log::Level::info) return;
  std::lock_guard lock(mutex_);
  const double rate = s.seconds > 0 ? static_cast<double>(s.sent_bytes) / s.seconds : 0;
  std::cerr << "\rhoist: uploading " << s.uploaded_files << "/" << (s.files - s.skipped_files) << " files, "
            << human_bytes(static_cast<double>(s.sent_bytes)) << " (" << human_bytes(rate) << "/s), " << s.skipped_files
            << " already there" << job::throttle_note(s) << "\x1b[K" << std::flush;
  progress_open_ = true;
}

void TerminalReporter::phase(const std::string& phase, const job::JobStatus& status) {
  // The end is said by the workflow, with how long it took and its exit code.
  if (!options_.phases || job::is_terminal_phase(phase)) return;
  say({"phase",
       "[" + phase + "]" + status.attempt_note() + (phase == "running" ? status.image_note() : std::string()),
       {}});
}

void TerminalReporter::log(std::string_view chunk) {
  std::cout << chunk << std::flush;
}

void TerminalReporter::contact_lost(std::string_view code) {
  warn("lost contact with AWS (" + std::string(code) +
       "); still trying, and the job goes on in AWS meanwhile (Ctrl-C detaches)");
}

void TerminalReporter::contact_restored(std::chrono::seconds away) {
  say({"contact", "back in contact with AWS after " + job::format_duration(away), {}});
}

bool TerminalReporter::confirm(std::string_view question, bool fallback) {
  const bool interactive = ::isatty(STDIN_FILENO) == 1 && tty_;
  if (fallback && !interactive) return true;
  {
    std::lock_guard lock(mutex_);
    end_progress();
    std::cerr << "hoist: " << question << (fallback ? " [Y/n] " : " [y/N] ") << std::flush;
  }
  std::string answer;
  if (!std::getline(std::cin, answer) || answer.empty()) return fallback;
  return answer[0] == 'y' || answer[0] == 'Y';
}

JsonReporter::JsonReporter(std::ostream& out) : out_(out) {}

void JsonReporter::emit(const nlohmann::json& line) {
  std::lock_guard lock(mutex_);
  // Replacement characters for bytes that are not UTF-8 (a script's output
  // may hold any): one bad byte must not end the stream.
  out_ << line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n" << std::flush;
}

void JsonReporter::say(const job::Event& event) {
  nlohmann::json line = {{"event", event.kind}, {"message", log::redact(event.text)}};
  if (event.data.is_object())
    for (const auto& [k, v] : event.data.items()) line[k] = v;
  emit(line);
}

void JsonReporter::warn(std::string_view text) {
  emit({{"event", "warning"}, {"message", log::redact(text)}});
}

void JsonReporter::detail(std::string_view text) {
  if (log::level() >= log::Level::verbose) emit({{"event", "detail"}, {"message", log::redact(text)}});
}

void JsonReporter::staging(const job::StageStats& s) {
  // At most twice a second: a program wants the trend, not every block.
  const auto now = std::chrono::steady_clock::now();
  if (now - last_progress_ < std::chrono::milliseconds(500)) return;
  last_progress_ = now;
  emit({{"event", "staging"},
        {"files", s.files},
        {"uploaded_files", s.uploaded_files},
        {"skipped_files", s.skipped_files},
        {"sent_bytes", s.sent_bytes},
        {"seconds", s.seconds}});
}

void JsonReporter::phase(const std::string& phase, const job::JobStatus& status) {
  emit({{"event", "phase"}, {"phase", phase}, {"status", status.raw}});
}

void JsonReporter::log(std::string_view chunk) {
  emit({{"event", "log"}, {"text", chunk}});
}

void JsonReporter::contact_lost(std::string_view code) {
  emit({{"event", "contact_lost"}, {"code", code}});
}

void JsonReporter::contact_restored(std::chrono::seconds away) {
  emit({{"event", "contact_restored"}, {"seconds", away.count()}});
}

bool JsonReporter::confirm(std::string_view question, bool fallback) {
  emit({{"event", "question"}, {"message", question}, {"answer", fallback}});
  return fallback;
}

}  // namespace hoist::cli
