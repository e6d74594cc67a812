"""A job's record in S3, as the instance writes it: the keys under
jobs/<id>/, the phases and status.json's fields. The laptop's side of the
same contract is src/job/record.hpp; a unit test holds the two together."""

# The phases, in the order a job passes them; the last five end it.
# "interrupted": a spot attempt ended by its notice, its successor launched
# (status.json's "successor"); that attempt's phases start again at booting.
PHASES = ("launching", "booting", "staging", "building", "running", "uploading", "interrupted",
          "succeeded", "failed", "cancelled", "preempted", "timed_out")
TERMINAL = ("succeeded", "failed", "cancelled", "preempted", "timed_out")

# status.json's fields.
STATUS_FIELDS = ("job_id", "phase", "phases", "updated_at", "instance_id",
                 "exit_code", "error", "image", "outputs",
                 # the attempts of a relaunched spot job, and its checkpoint
                 "attempt", "attempts", "started_at", "spot", "zone", "successor", "next_attempt",
                 "log_chunks", "checkpoint")


def prefix(job_id):
    return "jobs/%s/" % job_id


SPEC = "job.json"
STATUS = "status.json"
CANCEL = "cancel"
JOB_LOGS = "logs/job/"
BOOTSTRAP_LOG = "logs/bootstrap.log"
OUTPUTS = "output/"
CHECKPOINT = "checkpoint.json"  # the last saved checkpoint's manifest
CHECKPOINT_CONTENT = "checkpoint/"  # its files, by sha256
