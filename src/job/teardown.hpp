#pragma once
// Ending jobs and what they leave: `hoist cancel`, `gc` and `down`, the
// inverse of account.hpp. Everything is found by its hoist tags (DESIGN B1),
// never by names alone; what lacks the tag is kept, and the reporter is
// told so.
#include <chrono>
#include <string>

#include "job/connect.hpp"

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

struct DownOptions {
  bool all = false;  // also empty and delete the bucket (only one tagged as hoist's)
  bool yes = false;  // do not ask
};
// Ends every hoist instance; removes hoist's repositories, every job role
// and the old shared role (the boundary stays: an administrator's); with
// `all` the bucket too. False when the user declined (nothing removed).
bool down(const Connected& c, const DownOptions& options, Reporter& reporter);

}  // namespace hoist::job
