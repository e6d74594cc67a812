"""A job's record in S3, as the instance writes it: the keys under
jobs/<id>/, the phases and status.json's fields. The laptop's side of the
same contract is src/job/record.hpp; a unit test holds the two together."""

# The phases, in the order a job passes them; the last five end it.
PHASES = ("launching", "booting", "staging", "building", "running", "uploading",
          "succeeded", "failed", "cancelled", "preempted", "timed_out")
TERMINAL = ("succeeded", "failed", "cancelled", "preempted", "timed_out")

# status.json's fields.
STATUS_FIELDS = ("job_id", "phase", "phases", "updated_at", "instance_id",
                 "exit_code", "error", "image", "outputs")


def prefix(job_id):
    return "jobs/%s/" % job_id


SPEC = "job.json"
STATUS = "status.json"
CANCEL = "cancel"
JOB_LOGS = "logs/job/"
BOOTSTRAP_LOG = "logs/bootstrap.log"
OUTPUTS = "output/"
