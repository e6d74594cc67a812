#!/usr/bin/env python3
"""Phase times of a containerised job on the emulated cloud (issue 14).

Runs examples/wordcount through the real `hoist run` against moto, the host
runner, a real Docker engine and a real registry (tests/e2e/harness.py), and
times, from outside, each phase of the job as status.json shows it: the
moment RunInstances returned (hoist prints `launched i-...`), then the first
time each phase is seen in S3, then the first chunk of the script's log.

Two cases, each --repeat times:
  cold  requirements no job has built: the image is built on the instance
        and pushed (a new key each repetition);
  warm  the same requirements again, with the engine's image cache emptied
        first, as a new instance's is: the image is pulled, not built.

    python3 bench/phase_times.py [--repeat 3] [--hoist build/hoist]

Figures are wall seconds on this machine (loopback, no EC2 boot): what they
show is the instance side's own overhead. bench/RESULTS.md puts them beside
real EC2's boot and pull times.
"""
import argparse
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
import uuid

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))
from harness import BUCKET, Emulator  # noqa: E402

PHASES = ("booting", "staging", "building", "running", "uploading", "succeeded")
STEPS = [("launched", "booting", "RunInstances -> booting (host runner picks it up)"),
         ("booting", "staging", "booting -> staging (job.json, watchdog)"),
         ("staging", "building", "staging (code and inputs)"),
         ("building", "running", "building: image ready (build+push, or pull)"),
         ("running", "first_line", "running -> the script's first log line"),
         ("launched", "first_line", "RunInstances -> the script's first line"),
         ("launched", "succeeded", "RunInstances -> succeeded")]


class Watcher(threading.Thread):
    """Polls status.json and the job's log prefix; records when each phase
    and the first log chunk were first seen."""

    def __init__(self, s3, job_id, period=0.1):
        threading.Thread.__init__(self, daemon=True)
        self.s3, self.job_id, self.period = s3, job_id, period
        self.seen = {}
        self.stop = threading.Event()

    def run(self):
        import json
        prefix = "jobs/%s/" % self.job_id
        while not self.stop.is_set():
            now = time.time()
            try:
                body = self.s3.get_object(Bucket=BUCKET, Key=prefix + "status.json")["Body"].read()
                phase = json.loads(body).get("phase")
                if phase and phase not in self.seen:
                    self.seen[phase] = now
                if "first_line" not in self.seen:
                    r = self.s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix + "logs/job/", MaxKeys=1)
                    if r.get("KeyCount"):
                        self.seen["first_line"] = now
            except Exception:  # noqa: BLE001 - not written yet
                pass
            if "succeeded" in self.seen or "failed" in self.seen:
                return
            self.stop.wait(self.period)


def one_job(emu, project, inputs, out):
    bg = emu.hoist_bg("run", project, "-i", inputs, "-o", out, "--yes")
    launched = None
    job_id = None
    deadline = time.time() + 600
    watcher = None
    while time.time() < deadline:
        err = bg.stderr
        if job_id is None and "hoist: job " in err:
            job_id = err.split("hoist: job ", 1)[1].split()[0]
            watcher = Watcher(emu.s3, job_id)
            watcher.start()
        if launched is None and "hoist: launched i-" in err:
            launched = time.time()
        if bg.proc.poll() is not None:
            break
        time.sleep(0.02)
    r = bg.result(timeout=60)
    if watcher:
        watcher.join(30)
    if r.returncode != 0 or launched is None:
        raise RuntimeError("hoist run failed (exit %s):\n%s" % (r.returncode, r.stderr[-3000:]))
    times = dict(watcher.seen)
    times["launched"] = launched
    reused = "(image reused from ECR)" in r.stderr
    return times, reused


def forget_images(emu, repository):
    name = "%s/%s" % (emu.registry, repository)
    ids = emu.docker("images", "--quiet", "--no-trunc", name).stdout.split()
    if ids:
        emu.docker("image", "rm", "--force", *sorted(set(ids)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--hoist", help="the hoist binary (default: build*/hoist)")
    args = ap.parse_args()
    if args.hoist:
        os.environ["HOIST_BIN"] = os.path.abspath(args.hoist)
    tmp = tempfile.mkdtemp(prefix="hoist-phase-bench-")
    emu = Emulator(tmp, runtime="docker").start()
    try:
        src = os.path.join(ROOT, "examples", "wordcount")
        inputs = os.path.join(src, "sample-input")
        results = {"cold": [], "warm": []}
        for i in range(args.repeat):
            project = os.path.join(tmp, "p%d" % i, "wordcount")
            shutil.copytree(src, project, ignore=shutil.ignore_patterns("sample-input", "__pycache__"))
            with open(os.path.join(project, "requirements.txt"), "a") as f:
                f.write("# bench %s\n" % uuid.uuid4().hex)  # a key no job has built
            for case in ("cold", "warm"):
                forget_images(emu, "hoist/wordcount")
                times, reused = one_job(emu, project, inputs, os.path.join(tmp, "out-%s-%d" % (case, i)))
                if reused != (case == "warm"):
                    raise RuntimeError("%s run %d: the image was %s" % (case, i, "reused" if reused else "built"))
                results[case].append(times)
                print("%s %d: RunInstances -> first line %.2fs" % (case, i + 1, times["first_line"] - times["launched"]),
                      flush=True)
        print()
        print("phase times, wall seconds, median [min-max] of %d (Docker %s engine, loopback registry)"
              % (args.repeat, emu.docker("version", "--format", "{{.Server.Version}}").stdout.strip()))
        print("%-52s %20s %20s" % ("", "cold (build+push)", "warm (pull)"))
        for a, b, label in STEPS:
            cells = []
            for case in ("cold", "warm"):
                xs = [t[b] - t[a] for t in results[case] if a in t and b in t]
                cells.append("%6.2f [%5.2f-%5.2f]" % (statistics.median(xs), min(xs), max(xs)) if xs else "-")
            print("%-52s %20s %20s" % (label, cells[0], cells[1]))
    finally:
        emu.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
