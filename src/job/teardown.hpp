#pragma once
// Ending jobs and what they leave: `hoist cancel`, `gc` and `down`, the
// inverse of account.hpp. Everything is found by its hoist tags (DESIGN B1),
// never by names alone; what lacks the tag is kept, and the reporter is
// told so.
#include <array>
#include <chrono>
#include <set>
#include <string>
#include <string_view>

#include "job/connect.hpp"
#include "job/keep.hpp"

namespace hoist::job {

class Reporter;

// Asks a job to stop (jobs/<id>/cancel), gives its instance up to `grace`
// to upload partial outputs and say so, then ends the instance and removes
// the role. A job that already ended only has what is left released.
// Fatal(Exit::not_found) for a job the bucket does not hold.
void cancel(const Connected& c, const std::string& job_id, std::chrono::seconds grace, Reporter& reporter);

// Terminates hoist instances whose job has ended or outlived its limit, and
// removes the roles and per-job policies of jobs that are over (or never
// launched). Returns how many things it ended (or would, with dry_run).
int gc(const Connected& c, bool dry_run, Reporter& reporter);

// `hoist gc --blobs`: deletes the blobs under blobs/sha256/ that no job in
// the bucket references (its job.json's code, inputs, checkpoint seed and
// agent), after deleting every set marker under blobs/sets/ (the contract
// of docs/job-spec.md: a marker vouches for blobs without a look at them).
// A blob written in the last `grace` (kBlobGrace unless --blob-grace) is
// kept, referenced or not: a `hoist run` staging now may have sent it before
// writing the job.json that names it. gc_blobs.cpp says the whole rule.
// Returns how many objects it deleted (or would): markers and blobs.
inline constexpr std::chrono::hours kBlobGrace{24};
int gc_blobs(const Connected& c, bool dry_run, std::chrono::seconds grace, Reporter& reporter);

// What `hoist down` can remove, as --only and --keep name them.
inline constexpr std::array<std::string_view, 6> kDownResources = {"instances", "repository", "images",
                                                                   "role",      "topic",      "bucket"};

struct DownOptions {
  bool all = false;      // also empty and delete the bucket (only one tagged as hoist's)
  bool yes = false;      // do not ask
  bool dry_run = false;  // only say what would go and what stays, with its storage cost
  // --only: just these (kDownResources), whatever the settings say; --keep:
  // not these, this time.
  std::set<std::string> only, keep;
  // The [keep] settings of the project down was run for, and its
  // repository (hoist/<project>; "" when down was not run in a project).
  KeepSettings settings;
  std::string project_repository;
};
// Checks --only/--keep: Fatal(Exit::bad_option) for a name not in
// kDownResources, or one in both.
void check_down_options(const DownOptions& options);
// Ends every hoist instance; removes hoist's repositories (with their
// images), every job role and the old shared role (the boundary stays: an
// administrator's), and the notification topic; the bucket only with `all`
// or bucket = "down". A resource whose setting is "keep" stays unless --all
// or --only names it. False when the user declined (nothing removed).
bool down(const Connected& c, const DownOptions& options, Reporter& reporter);

}  // namespace hoist::job
