#pragma once
// The user's project folder and the run's settings (command line over
// hoist.toml over defaults), validated before anything touches AWS.
#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "job/manifest.hpp"

namespace hoist::job {

struct RunOptions {
  std::string project_dir;
  std::string input;   // local folder/file or s3://bucket/prefix
  std::string output;  // local folder or s3://bucket/prefix
  std::string script;  // entry script, relative to project_dir
  std::vector<std::string> args;
  std::string instance_type;
  int cpus = 0;
  int gpus = 0;
  // --spot-retries: how many times an interrupted spot job is relaunched
  // (same job, next attempt).
  int spot_retries = 0;
  double memory_gib = 0;
  std::string gpu_type;
  std::string arch;  // --arch: x86_64 or arm64; "" for either
  // --budget / hoist.toml budget, USD: the job's instance ends before it
  // costs more (0: no budget).
  double budget_usd = 0;
  // --checkpoint DIR: the folder the script saves its progress in
  // (/checkpoint, $HOIST_CHECKPOINT), seeded from DIR and brought back to it.
  std::string checkpoint;
  // --checkpoint-every: how often the instance saves it (at the spot notice too).
  std::chrono::seconds checkpoint_every{0};
  // --notify (repeatable) / hoist.toml notify: where the job's end is told,
  // from the instance: e-mail addresses (the SNS topic kNotifyTopic) and
  // https:// webhooks (a JSON POST with a Slack-style "text").
  std::vector<std::string> notify;
  bool spot = false;
  // --spot-fallback: on demand when spot has no room, or once the retries
  // are used up.
  bool spot_fallback = false;
  // --keep-instance: the instance stays up after the script, until its
  // deadline, for a look at it through SSM Session Manager.
  bool keep_instance = false;
  // --disk or hoist.toml's disk; unset: kDefaultDiskGib, grown to fit. Unset
  // and 0 differ: `--disk 0` is refused, not taken for the default.
  std::optional<int> disk_gib;
  bool disk_chosen = false;  // --disk or hoist.toml's disk, not the default
  std::chrono::seconds max_runtime{0};
  std::string python;
  std::string image;  // --image: an AMI id instead of Amazon Linux 2023 / the Deep Learning AMI
  bool detach = false;
  bool dry_run = false;
  bool rehash = false;  // hash every file again instead of trusting the local hash cache
  bool yes = false;
};

inline constexpr int kDefaultDiskGib = 30;
inline constexpr int kMinDiskGib = 8;
inline constexpr int kMaxDiskGib = 16384;  // gp3's largest volume
inline constexpr std::chrono::hours kDefaultMaxRuntime{4};
inline constexpr std::chrono::minutes kDefaultCheckpointEvery{5};
inline constexpr int kMaxSpotRetries = 10;
// What --notify names: an e-mail address, a webhook (https://, or http://
// to this machine only), or neither. Each address at most 254 characters.
enum class NotifyKind { email, webhook, invalid };
NotifyKind notify_kind(const std::string& target);
// A webhook as it may be shown (its path and query may hold its secret):
// "https://hooks.slack.com/…".
std::string redact_webhook(const std::string& url);
inline constexpr const char* kDefaultPython = "3.11";
inline constexpr const char* kDefaultScript = "main.py";

// "90s", "45m", "4h", "1h30m", "2d" -> seconds. Throws Fatal(Exit::bad_option).
std::chrono::seconds parse_duration(const std::string& text, const std::string& option);
std::string format_duration(std::chrono::seconds s);

// A file's bytes; empty when it cannot be read.
std::string read_text(const std::string& path);

// A flat TOML subset: key = "string" | 'string' | integer | float | true/false
// | ["array", "of", "strings"]; comments; [sections] are prefixed "section.".
using TomlValue = std::string;  // strings unquoted, arrays as JSON text
std::map<std::string, TomlValue> parse_toml(const std::string& text, const std::string& file_name);

// Fills unset fields of `options` from PROJECT_DIR/hoist.toml and defaults;
// `region`/`profile`/`bucket` from the file are returned for the AWS overrides.
struct FileSettings {
  std::string region, profile, bucket;
};
FileSettings apply_project_file(RunOptions& options);

// Checks the folder, requirements.txt, entry script, INPUT and OUTPUT.
// Each failure: Fatal with its own exit code and a one-line fix.
void validate(const RunOptions& options);

// The project's name: hoist.toml `name`, else the folder name, lower-cased
// with anything outside [a-z0-9-] turned into '-', trimmed to 40 chars.
std::string project_name(const RunOptions& options);

// The code files to send: everything under the folder except .git,
// virtualenvs, __pycache__, *.pyc and what .gitignore / .hoistignore exclude.
Manifest code_files(const std::string& project_dir);

bool is_s3_uri(const std::string& s);
// "ami-" and 8 or 17 lower-case hex digits, as EC2 names images.
bool is_ami_id(const std::string& s);

}  // namespace hoist::job
