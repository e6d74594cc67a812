#pragma once
// `hoist run` as named steps: prepare the local side, survey the account
// (read-only), provision, stage and launch, follow, collect. job::run is
// their order and what is said between them; RunSteps is what each does to
// the world, so that a test can put a fake account behind the same order.
#include <functional>
#include <string>

#include "aws/config.hpp"
#include "job/launcher.hpp"
#include "job/spec.hpp"
#include "job/watcher.hpp"

namespace hoist::job {

class Reporter;

struct RunRequest {
  RunOptions options;
  aws::Overrides aws;
  // Called as following starts; from then on detach_requested is asked,
  // true once the user wants hoist to let go (Ctrl-C).
  std::function<void()> following;
  std::function<bool()> detach_requested;
};

struct RunOutcome {
  // 0, the script's own exit status, or hoist's (Exit) for how it ended.
  int exit_status = 0;
  std::string job_id;  // empty when no job was made (a dry run has one, unused)
  bool launched = false;
  bool detached = false;  // --detach, or Ctrl-C while following: the job goes on
};

// What each step does to the world. Steps speak through the Reporter they
// were made with; a step that fails throws (Fatal for what the user must
// fix, aws::AwsError for AWS) and job::run decides what follows.
class RunSteps {
 public:
  RunSteps() = default;
  RunSteps(const RunSteps&) = delete;
  RunSteps& operator=(const RunSteps&) = delete;
  virtual ~RunSteps() = default;

  // Everything checked without AWS: hoist.toml, the options, the plan, the
  // image spec, the code and input files and their hashes.
  virtual void prepare(Job& job) = 0;
  // Who we are and what the account has, read-only; every check of the
  // user's own locations and of the region. Creates nothing. Fills in the
  // job's id, account, region, bucket, machine image and the plan's disk.
  virtual void survey(Job& job) = 0;
  // --dry-run: what would be created and sent.
  virtual void describe(const Job& job) = 0;
  // Creates what the survey found missing (boundary, bucket, repository).
  virtual void provision(Job& job) = 0;
  // Sends what the bucket lacks, writes the job's record, makes its role and
  // starts its instance.
  virtual Launched launch(Job& job) = 0;
  // After a launch that failed: the record says so, and what the job was
  // given is taken back. Must not throw for a failure already reported.
  virtual void abandon(const Job& job) = 0;
  virtual WatchResult follow(const Job& job, const Launched& launched) = 0;
  // Whatever happened: end the instance and the role, bring the outputs
  // home, say where they are and what the job cost.
  virtual void collect(const Job& job, const Launched& launched) = 0;
};

RunOutcome run(const RunRequest& request, RunSteps& steps, Reporter& reporter);
// With the steps that talk to AWS.
RunOutcome run(const RunRequest& request, Reporter& reporter);

// How a followed job's end maps to hoist's exit status, and what is said of
// it (" after <wall>" is added by the caller for a terminal status).
int exit_status_for(const WatchResult& result);

// "t3.medium (2 vCPU, 4 GiB), on-demand, 30 GiB disk".
std::string describe_type(const InstancePlan& plan);

}  // namespace hoist::job
