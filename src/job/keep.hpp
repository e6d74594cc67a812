#pragma once
// What hoist keeps between runs, and for how long: hoist.toml's [keep]
// section (README "What is kept, what is destroyed"). Read before anything
// touches AWS; every bad value is Fatal(Exit::bad_option) naming the fix.
#include <memory>
#include <optional>
#include <string>

#include "aws/client.hpp"

namespace hoist::job {

class Reporter;

// When a resource goes:
//   run  - after each run of the project (its job ended, results fetched)
//   down - by `hoist down`
//   keep - not by `hoist down` either: only when `hoist down --only` names
//          it (or, for the bucket, `down --all`)
enum class KeepUntil { run, down, keep };
std::string_view keep_name(KeepUntil k);

struct KeepSettings {
  KeepUntil bucket = KeepUntil::keep;      // today: only `down --all`
  KeepUntil repository = KeepUntil::down;  // the project's hoist/<project>
  // The images in it; unset: as the repository. (Deleting a repository
  // deletes its images: "keep" needs the repository kept too.)
  std::optional<KeepUntil> images;
  KeepUntil topic = KeepUntil::down;  // hoist-notifications
  // Each job's role and instance profile. "run" (today): removed when its
  // job ends. "down" or "keep": the role is tagged hoist:keep with that
  // value, and collect, cancel and gc leave it (kept_role).
  KeepUntil role = KeepUntil::run;
  // jobs_retention = "30d": a lifecycle rule expires every object under
  // jobs/ this many days after it was written (0: kept until deleted).
  int jobs_retention_days = 0;
  // images_kept = N: the repository's lifecycle policy keeps the newest N.
  int images_kept = 10;

  [[nodiscard]] KeepUntil images_until() const { return images.value_or(repository); }
};

inline constexpr int kMaxJobsRetentionDays = 3650;
inline constexpr int kMaxImagesKept = 1000;

// PROJECT_DIR/hoist.toml's [keep] (defaults when the file or section is
// missing). Unknown keys and values are refused.
KeepSettings read_keep_settings(const std::string& project_dir);

// At the end of a run (its job over, its instance ended; called before the
// outputs are fetched, which need no image): removes
// what the settings say goes after each run, repository = "run" (the
// project's hoist/<project> with its images) or images = "run" (its images;
// the repository stays). Kept, and said so, while another job of the
// project still has an instance: it may still push or pull.
void release_after_run(const std::shared_ptr<aws::Session>& session, const std::string& project,
                       const std::string& job_id, const KeepSettings& settings, Reporter& reporter);

}  // namespace hoist::job
