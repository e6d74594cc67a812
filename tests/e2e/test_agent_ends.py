"""The instance always ends (issue 15): by the job's own limit even before
job.json is read, and by the deadline whatever the disk holds, with the
terminal status in S3.

LoaderFallback runs agent/loader.sh (filled in as the launcher does) on this
machine with a stand-in python3, so nothing but the loader's own shell runs.
FullDisk runs real jobs with the real hoist binary against moto + the host
runner, each instance's disk a small tmpfs (hostrunner.py --disk-mib), and
checks the outcome with boto3.

    python3 -m unittest tests/e2e/test_agent_ends.py -v     (about 2 minutes)
"""
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import test_agent  # noqa: E402 - its fill_loader, the launcher's mirror

VALUES = {"BUCKET": test_agent.BUCKET, "JOB_ID": "ends-20261124-031500-ab12",
          "REGION": test_agent.REGION, "ACCOUNT": test_agent.ACCOUNT,
          "S3_ENDPOINT": "https://s3.us-east-1.amazonaws.com", "AGENT_SHA256": "ab" * 32}


class LoaderFallback(unittest.TestCase):
    """The loader's fallback power-off comes at MAX_RUNTIME (the job's limit
    and a grace, from the user data), and bootstrap.sh gets the same limit."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="hoist-loader-")
        self.addCleanup(shutil.rmtree, self.tmp, ignore_errors=True)
        self.bin = os.path.join(self.tmp, "bin")
        os.makedirs(self.bin)
        self.marker = os.path.join(self.tmp, "powered-off")
        self.proc = None

    def tearDown(self):
        if self.proc is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def fake_python(self, body):
        p = os.path.join(self.bin, "python3")
        with open(p, "w") as f:
            f.write("#!/bin/bash\n" + body)
        os.chmod(p, 0o755)

    def start(self, max_runtime, **env):
        script = os.path.join(self.tmp, "user-data")
        with open(script, "w") as f:
            f.write(test_agent.fill_loader(dict(VALUES, MAX_RUNTIME=str(max_runtime))))
        full = {k: v for k, v in os.environ.items()
                if not k.startswith(("AWS_", "HOIST_"))}
        full.update(PATH=self.bin + os.pathsep + os.environ["PATH"],
                    HOIST_HOST_ROOT=os.path.join(self.tmp, "host"),
                    HOIST_SHUTDOWN_CMD="touch '%s'" % self.marker, **env)
        self.t0 = time.monotonic()
        self.proc = subprocess.Popen(["bash", script], env=full, start_new_session=True,
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)

    def powered_off_after(self, timeout):
        """Seconds from the start to the power-off, or None within timeout."""
        while time.monotonic() - self.t0 < timeout:
            if os.path.exists(self.marker):
                return time.monotonic() - self.t0
            time.sleep(0.1)
        return None

    def test_a_hung_fetch_ends_at_the_jobs_limit_not_an_hour(self):
        self.fake_python("exec sleep 600\n")  # the agent's fetch never returns
        self.start(3)
        after = self.powered_off_after(20)
        self.assertIsNotNone(after, "no power-off within 20 s of a 3 s limit")
        self.assertGreaterEqual(after, 2.5)

    def test_the_host_runner_may_still_say_otherwise(self):
        self.fake_python("exec sleep 600\n")
        self.start(600, HOIST_FALLBACK_MAX_RUNTIME="1")
        self.assertIsNotNone(self.powered_off_after(10))

    def test_bootstrap_sh_gets_the_same_limit(self):
        # The stand-in "fetches" nothing and "unpacks" a bootstrap.sh that
        # reports the limit it was given.
        seen = os.path.join(self.tmp, "seen")
        self.fake_python('''cat >/dev/null
if [[ $1 == -m ]]; then
  mkdir -p "$5"
  echo 'echo "$HOIST_FALLBACK_MAX_RUNTIME" >%s' >"$5/bootstrap.sh"
fi
''' % seen)
        self.start(4321)
        deadline = time.monotonic() + 10
        text = ""
        while not text.endswith("\n") and time.monotonic() < deadline:
            time.sleep(0.1)
            with contextlib.suppress(OSError), open(seen) as f:
                text = f.read()
        self.assertEqual(text, "4321\n")


if __name__ == "__main__":
    unittest.main()
