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
import base64
import contextlib
import os
import re
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
from harness import Emulator, release, write_tree  # noqa: E402

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


# Fills the output folder (the instance's disk) until a write fails, says so
# only before that (a print on a full disk has nowhere to go), then exits 3
# or hangs.
FILL_MAIN = r'''
import argparse, os, sys, time
ap = argparse.ArgumentParser()
ap.add_argument("-i", required=True)
ap.add_argument("-o", required=True)
ap.add_argument("--then", choices=("exit", "hang"), required=True)
a = ap.parse_args()
print("filling the disk, then: " + a.then, flush=True)
mib = 0
try:
    with open(os.path.join(a.o, "fill.bin"), "wb", buffering=0) as f:
        while True:
            f.write(b"x" * (1 << 20))
            mib += 1
except OSError:
    pass
if a.then == "hang":
    while True:
        time.sleep(1)
sys.exit(3)
'''
DISK_MIB = 64
TERMINAL = ("succeeded", "failed", "cancelled", "preempted", "timed_out")


def tmpfs_mounts_under(root):
    with open("/proc/mounts") as f:
        points = [line.split()[1] for line in f]
    return [p for p in points if p.startswith(root.rstrip("/") + "/")]


def tmpfs_problem():
    """Why a tmpfs cannot be mounted here, or None."""
    d = tempfile.mkdtemp(prefix="hoist-tmpfs-probe-")
    try:
        p = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "hoist-probe", d],
                           capture_output=True, text=True, stdin=subprocess.DEVNULL)
        if p.returncode != 0:
            return "mount -t tmpfs fails here (%s): the full-disk tests need root" % (
                p.stderr.strip() or "exit %d" % p.returncode)
        subprocess.run(["umount", d], check=True)
        return None
    except OSError as e:
        return "no mount command: %s" % e
    finally:
        os.rmdir(d)


class FullDisk(unittest.TestCase):
    """Each instance's disk is a tmpfs of DISK_MIB MiB that its script fills."""

    @classmethod
    def setUpClass(cls):
        why = tmpfs_problem()
        if why:
            raise unittest.SkipTest(why)
        cls.tmp = tempfile.mkdtemp(prefix="hoist-full-disk-")
        cls.emu = Emulator(cls.tmp, runner=False).start()
        cls.emu.start_runner(HOIST_RUNNER_DISK_MIB=str(DISK_MIB))
        cls.project = write_tree(os.path.join(cls.tmp, "filler"),
                                 {"main.py": FILL_MAIN, "requirements.txt": ""})
        cls.inputs = write_tree(os.path.join(cls.tmp, "in"), {"a.txt": b"a\n"})

    @classmethod
    def tearDownClass(cls):
        cls.emu.stop()  # the runner unmounts its instances' disks...
        for point in tmpfs_mounts_under(cls.tmp):  # ...or these are left
            subprocess.run(["umount", "-l", point], stdin=subprocess.DEVNULL)
        release(cls.emu, cls.tmp)

    def launch(self, max_runtime, then):
        out = tempfile.mkdtemp(prefix="out-", dir=self.tmp)
        p = self.emu.hoist("run", self.project, "-i", self.inputs, "-o", out, "--yes", "--detach",
                           "--max-runtime", max_runtime, "--", "--then", then, timeout=120)
        m = re.search(r"hoist: job (\S+) in ", p.stderr)
        self.assertEqual(p.returncode, 0, p.stderr[-3000:])
        self.assertIsNotNone(m, p.stderr[-3000:])
        job = m.group(1)
        insts = self.emu.job_instances(job)
        self.assertEqual(len(insts), 1)
        return job, insts[0]["InstanceId"], time.monotonic()

    def powered_off(self, job, iid, timeout):
        """Seconds until the instance asked for its power-off (the runner's
        marker: only the user data's own shutdown command makes it) and was
        terminated; None after timeout."""
        marker = os.path.join(self.emu.host_root, iid + ".shutdown")
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            if os.path.exists(marker):
                states = self.emu.wait_instances_terminated(job, timeout=15)
                self.assertEqual(states, ["terminated"], self.emu.diagnostics(job))
                return time.monotonic() - t0
            time.sleep(0.3)
        return None

    def test_1_a_script_that_fills_the_disk_and_fails(self):
        job, iid, _ = self.launch("5m", "exit")
        st = self.emu.wait_phase(job, TERMINAL, timeout=90)
        self.assertIsNotNone(st)
        self.assertEqual(st["phase"], "failed", (st, self.emu.diagnostics(job)))
        self.assertEqual(st["exit_code"], 3, st)
        self.assertIn("the script exited with status 3", st["error"])
        self.assertIn("the instance's %d MiB disk was full" % DISK_MIB, st["error"])
        self.assertIsNotNone(self.powered_off(job, iid, 30), self.emu.diagnostics(job))
        # the loader's fallback is the job's limit (5 minutes) and the grace
        ud = self.emu.ec2.describe_instance_attribute(InstanceId=iid, Attribute="userData")
        text = base64.b64decode(ud["UserData"]["Value"]).decode()
        self.assertIn("HOIST_FALLBACK_MAX_RUNTIME=${HOIST_FALLBACK_MAX_RUNTIME:-'420'}", text)

    def test_2_a_full_disk_does_not_stop_the_watchdog(self):
        limit, grace = 20, 30  # the harness's HOIST_WATCHDOG_GRACE
        job, iid, launched = self.launch("%ds" % limit, "hang")
        self.assertIsNotNone(self.emu.wait_phase(job, ("running",) + TERMINAL, timeout=limit))
        after = self.powered_off(job, iid, limit + grace + 20)
        self.assertIsNotNone(after, "no power-off by the deadline\n" + self.emu.diagnostics(job))
        self.assertLess(time.monotonic() - launched, limit + grace + 10)
        st = self.emu.status(job)
        self.assertEqual(st["phase"], "timed_out", (st, self.emu.diagnostics(job)))
        self.assertIn("max runtime exceeded", st["error"])
        self.assertIn("the instance's %d MiB disk was full" % DISK_MIB, st["error"])
        self.assertIn("running", st["phases"])  # the script did run, and filled the disk


if __name__ == "__main__":
    unittest.main()
