#include "job/keep.hpp"

#include <algorithm>
#include <filesystem>
#include <set>

#include "aws/ecr.hpp"
#include "job/instances.hpp"
#include "job/naming.hpp"
#include "job/project.hpp"
#include "job/reporter.hpp"
#include "util/error.hpp"

namespace fs = std::filesystem;

namespace hoist::job {

std::string_view keep_name(KeepUntil k) {
  switch (k) {
    case KeepUntil::run:
      return "run";
    case KeepUntil::down:
      return "down";
    case KeepUntil::keep:
      return "keep";
  }
  return "down";
}

namespace {

// A whole number in [1, max], all of `text` (after an optional unit suffix).
std::optional<int> whole(const std::string& text, int max) {
  if (text.empty() || text.size() > 9) return std::nullopt;
  for (char c : text)
    if (c < '0' || c > '9') return std::nullopt;
  const int n = std::stoi(text);
  if (n < 1 || n > max) return std::nullopt;
  return n;
}

// `value` as one of `allowed`, else Fatal naming the choices (and `why`).
KeepUntil choice(const std::string& where, const std::string& value, const std::set<std::string>& allowed,
                 const std::string& why = "") {
  if (!allowed.contains(value)) {
    std::string list;
    for (const auto& a : allowed) {
      list += list.empty() ? "\"" : ", \"";
      list += a;
      list += '"';
    }
    throw Fatal(Exit::bad_option, where + " = \"" + value + "\" is not a choice: use " + list + why);
  }
  return value == "run" ? KeepUntil::run : value == "down" ? KeepUntil::down : KeepUntil::keep;
}

// One setting of the section; `section` is "FILE: [keep] ".
void set_one(KeepSettings& k, const std::string& name, const std::string& value, const std::string& section) {
  const std::string where = section + name;
  if (name == "bucket") {
    k.bucket = choice(where, value, {"down", "keep"},
                      " (the bucket holds every job's record and outputs; to drop old jobs, set jobs_retention)");
  } else if (name == "repository") {
    k.repository = choice(where, value, {"run", "down", "keep"});
  } else if (name == "images") {
    k.images = choice(where, value, {"run", "down", "keep"});
  } else if (name == "role") {
    k.role = choice(where, value, {"run", "down", "keep"});
  } else if (name == "topic") {
    k.topic = choice(where, value, {"down", "keep"}, " (the topic is shared by every project's --notify)");
  } else if (name == "jobs_retention") {
    const auto days =
        value.ends_with('d') ? whole(value.substr(0, value.size() - 1), kMaxJobsRetentionDays) : std::nullopt;
    if (!days)
      throw Fatal(Exit::bad_option, where + " = \"" + value + "\" is not a number of days: use " + "\"30d\" (1d to " +
                                        std::to_string(kMaxJobsRetentionDays) +
                                        "d), or leave it out to keep jobs until `hoist down --all`");
    k.jobs_retention_days = *days;
  } else if (name == "images_kept") {
    const auto n = whole(value, kMaxImagesKept);
    if (!n)
      throw Fatal(Exit::bad_option, where + " = " + value + " is out of range: pick a whole number 1 to " +
                                        std::to_string(kMaxImagesKept) + " (default 10)");
    k.images_kept = *n;
  } else {
    throw Fatal(Exit::bad_option, section + "has no setting '" + name +
                                      "': use bucket, repository, images, role, topic, jobs_retention or images_kept");
  }
}

}  // namespace

KeepSettings read_keep_settings(const std::string& project_dir) {
  KeepSettings k;
  const fs::path file = fs::path(project_dir) / "hoist.toml";
  std::error_code ec;
  if (project_dir.empty() || !fs::exists(file, ec)) return k;
  const std::string where = file.string() + ": [keep] ";
  for (const auto& [key, value] : parse_toml(read_text(file.string()), file.string()))
    if (key.starts_with("keep.")) set_one(k, key.substr(5), value, where);
  // Deleting a repository deletes its images.
  if (k.images_until() == KeepUntil::keep && k.repository != KeepUntil::keep)
    throw Fatal(Exit::bad_option, where +
                                      "images = \"keep\" needs repository = \"keep\" too: deleting the "
                                      "repository deletes its images");
  return k;
}

void release_after_run(const std::shared_ptr<aws::Session>& session, const std::string& project,
                       const std::string& job_id, const KeepSettings& settings, Reporter& reporter) {
  const bool repository = settings.repository == KeepUntil::run;
  if (!repository && settings.images_until() != KeepUntil::run) return;
  const std::string name = repository_name(project);
  // Another job of the project with an instance may still push or pull.
  const auto alive = managed_instances(session, InstanceStates::alive);
  const auto other = std::ranges::find_if(alive, [&](const auto& i) {
    const auto p = i.tags.find(kProjectTag);
    const auto j = i.tags.find(kJobTag);
    return p != i.tags.end() && p->second == project && (j == i.tags.end() || j->second != job_id);
  });
  if (other != alive.end()) {
    const auto j = other->tags.find(kJobTag);
    reporter.note("kept " + std::string(repository ? "repository " : "the images of ") + name + ": job " +
                  (j == other->tags.end() ? "?" : j->second) + " of this project still runs");
    return;
  }
  aws::Ecr ecr(session);
  if (repository) {
    if (ecr.delete_repository(name, true))
      reporter.note("deleted repository " + name + " (keep: repository = \"run\")");
    return;
  }
  std::vector<aws::EcrImageId> ids;
  for (const auto& image : ecr.describe_images(name)) ids.push_back({image.digest, ""});
  if (ids.empty()) return;
  ecr.batch_delete_image(name, ids);
  reporter.note("deleted " + std::to_string(ids.size()) + " image(s) of " + name + " (keep: images = \"run\")");
}

}  // namespace hoist::job
