"""The agent's commands (run by agent/bootstrap.sh):

  init                 write phase booting, fetch job.json, print max_runtime_seconds
  run                  staging, building, running, uploading, terminal phase
  finalize PHASE MSG   if no terminal status was written yet: upload partial
                       outputs and logs, write terminal PHASE with error MSG
  keep                 exit 0 when job.json asks to keep the instance up after
                       the job (--keep-instance), else 1

All read HOIST_BUCKET, HOIST_JOB_ID, HOIST_REGION, HOIST_WORK.
"""
import os
import signal
import sys

from hoist_agent.job import Job
from hoist_agent.util import Abort, log, save_state


def on_sigterm(signum, frame):
    reason = "timed_out"
    try:
        with open(os.path.join(os.environ["HOIST_WORK"], "state", "abort")) as f:
            reason = f.read().strip() or reason
    except OSError:
        pass
    msg = {"timed_out": "max runtime exceeded"}.get(reason, "stopped by signal %d" % signum)
    raise Abort(reason, msg)


def main(argv):
    if len(argv) < 2:
        sys.stderr.write(__doc__)
        return 2
    cmd = argv[1]
    job = Job()
    save_state(os.path.join(job.state, "agent.pid"), str(os.getpid()).encode())
    signal.signal(signal.SIGTERM, on_sigterm)
    if cmd == "init":
        try:
            job.init()
        except Abort as e:
            job.finish(e.reason, str(e))
            return 3
        except Exception as e:  # noqa: BLE001 - report it, then let the bootstrap power off
            log("init failed: %s" % e)
            job.finish("failed", "%s: %s" % (type(e).__name__, e))
            return 1
        return 0
    if cmd == "run":
        try:
            job.run()
        except Abort as e:  # SIGTERM landed inside finish(): finish again, best effort
            if not job.terminal_written():
                job.finish(e.reason, str(e))
        return 0
    if cmd == "keep":
        try:
            return 0 if job.load_spec().get("keep_instance") else 1
        except (OSError, ValueError):
            return 1
    if cmd == "finalize":
        phase = argv[2] if len(argv) > 2 else "failed"
        msg = argv[3] if len(argv) > 3 else "bootstrap failed"
        if job.terminal_written():
            job.upload_bootstrap_log()
            return 0
        try:
            job.load_spec()
        except (OSError, ValueError):
            job.spec = None
        job.finish(phase, msg)
        return 0
    sys.stderr.write("unknown command %r\n" % cmd)
    return 2

