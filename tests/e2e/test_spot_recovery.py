"""End-to-end tests of spot jobs that survive preemption (issue 13): the REAL
hoist binary against moto on 127.0.0.1, the host runner playing each
instance with its IMDS stand-in giving the interruption notice, and every
outcome checked with boto3.

A script counts to --steps, saving its progress in $HOIST_CHECKPOINT after
each step (a temporary file and a rename); a notice lands once a checkpoint
is in S3; the next attempt must go on from it on a new instance.

    python3 -m unittest tests/e2e/test_spot_recovery.py -v
"""
import datetime
import json
import os
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import BUCKET, Emulator, release, show, write_tree  # noqa: E402

COUNTER = '''import argparse, json, os, time
ap = argparse.ArgumentParser()
ap.add_argument("-i")
ap.add_argument("-o")
ap.add_argument("--steps", type=int, default=40)
a = ap.parse_args()
cp = os.environ["HOIST_CHECKPOINT"]
state = os.path.join(cp, "progress.json")
done = 0
if os.path.exists(state):
    with open(state) as f:
        done = json.load(f)["step"]
start = done
seed = open(os.path.join(cp, "seed.txt")).read() if os.path.exists(os.path.join(cp, "seed.txt")) else None
words = len(open(os.path.join(a.i, "words.txt")).read().split())
print("attempt", os.environ["HOIST_ATTEMPT"], "from step", start, flush=True)
while done < a.steps:
    time.sleep(0.25)
    done += 1
    with open(state + ".tmp", "w") as f:
        json.dump({"step": done}, f)
    os.replace(state + ".tmp", state)
    print("step", done, flush=True)
with open(os.path.join(a.o, "result.json"), "w") as f:
    json.dump({"steps": done, "resumed_from": start, "attempt": int(os.environ["HOIST_ATTEMPT"]),
               "seed": seed, "words": words}, f)
'''


def stamp(text):
    return datetime.datetime.strptime(text[:19], "%Y-%m-%dT%H:%M:%S").timestamp()


class SpotRecoveryTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="hoist-spot-e2e-")
        cls.emu = Emulator(cls.tmp, runner=False).start()
        # A save every second (the default is every 5 minutes).
        cls.emu.start_runner(imds=True, HOIST_CHECKPOINT_EVERY="1")
        cls.project = write_tree(os.path.join(cls.tmp, "proj"), {"main.py": COUNTER, "requirements.txt": ""})
        cls.inp = write_tree(os.path.join(cls.tmp, "in"), {"words.txt": "one two three\n"})

    @classmethod
    def tearDownClass(cls):
        release(cls.emu, cls.tmp)

    def checkpoint(self, job_id):
        """The job's saved checkpoint in S3: (its manifest, the step saved)."""
        manifest = self.emu.get_json("jobs/%s/checkpoint.json" % job_id)
        if not manifest or "progress.json" not in manifest["files"]:
            return manifest, 0
        sha = manifest["files"]["progress.json"]["sha256"]
        body = self.emu.s3.get_object(Bucket=BUCKET, Key="jobs/%s/checkpoint/%s" % (job_id, sha))["Body"].read()
        return manifest, json.loads(body)["step"]

    def interrupt_after_a_save(self, job_id, at_least=4, timeout=240):
        """Waits for a checkpoint of `at_least` steps, then gives the job's
        instance its notice; returns (that instance, the step saved)."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            _, step = self.checkpoint(job_id)
            if step >= at_least:
                first = self.emu.status(job_id)["instance_id"]
                self.emu.spot_notice(first)
                return first, step
            time.sleep(0.3)
        self.fail("no checkpoint of %d steps in %ds: %s" % (at_least, timeout, self.emu.diagnostics(job_id)))

    def job_ids(self):
        """The jobs the bucket holds records of (boto3)."""
        try:
            keys = self.emu.listing(BUCKET, "jobs/")
        except self.emu.s3.exceptions.NoSuchBucket:
            return set()
        return {k.split("/")[1] for k in keys}

    def new_job_id(self, before):
        deadline = time.time() + 120
        while time.time() < deadline:
            ids = self.job_ids() - before
            if ids:
                return ids.pop()
            time.sleep(0.3)
        self.fail("no job appeared")

    def test_1_a_preempted_job_resumes_from_its_checkpoint_on_a_second_instance(self):
        cp = write_tree(os.path.join(self.tmp, "cp1"), {"seed.txt": "seeded"})
        out = os.path.join(self.tmp, "out1")
        before = self.job_ids()
        bg = self.emu.hoist_bg("run", self.project, "-i", self.inp, "-o", out, "--yes", "--spot",
                               "--spot-retries", "1", "--checkpoint", cp, "--", "--steps", "60")
        job_id = self.new_job_id(before)
        first, saved = self.interrupt_after_a_save(job_id)
        p = bg.result(timeout=400)
        self.assertEqual(p.returncode, 0, show(p) + self.emu.diagnostics(job_id))

        # The outputs are the second attempt's, which went on from the save.
        with open(os.path.join(out, "result.json")) as f:
            result = json.load(f)
        self.assertEqual(result["steps"], 60)
        self.assertEqual(result["attempt"], 2)
        self.assertGreaterEqual(result["resumed_from"], saved)
        self.assertLess(result["resumed_from"], 60)
        self.assertEqual(result["seed"], "seeded")  # the folder given, restored at the first attempt
        self.assertEqual(result["words"], 3)
        # The last checkpoint came back into the folder.
        with open(os.path.join(cp, "progress.json")) as f:
            self.assertEqual(json.load(f), {"step": 60})

        # Two spot instances, both ended; the record says which did what.
        insts = self.emu.job_instances(job_id)
        self.assertEqual(len(insts), 2, insts)
        self.assertTrue(all(i.get("InstanceLifecycle") == "spot" for i in insts), insts)
        self.assertEqual(set(self.emu.wait_instances_terminated(job_id)), {"terminated"})
        second = next(i["InstanceId"] for i in insts if i["InstanceId"] != first)
        st = self.emu.status(job_id)
        self.assertEqual(st["phase"], "succeeded")
        self.assertEqual(st["attempt"], 2)
        self.assertEqual([(a["attempt"], a["instance_id"], a["ended"]) for a in st["attempts"]],
                         [(1, first, "interrupted"), (2, second, "succeeded")])
        self.assertTrue(all(a["spot"] for a in st["attempts"]))
        self.assertIn("spot interruption notice", st["attempts"][0]["error"])
        # A figure, not a check: how long the hand-over took here.
        ended, booted = (stamp(st["attempts"][0]["ended_at"]), stamp(st["attempts"][1]["started_at"]))
        print("\nhand-over: attempt 1 ended -> attempt 2 booting %.0fs, -> running %.0fs"
              % (booted - ended, stamp(st["phases"]["running"]) - ended), file=sys.stderr)

        # Only the contents the last manifest names are kept.
        manifest, step = self.checkpoint(job_id)
        self.assertEqual(step, 60)
        kept = {k.rsplit("/", 1)[1] for k in self.emu.listing(BUCKET, "jobs/%s/checkpoint/" % job_id)}
        self.assertEqual(kept, {e["sha256"] for e in manifest["files"].values()})

        # What the user saw: the hand-over, the second attempt's phases,
        # both attempts' output, and the cost of both.
        self.assertIn("[interrupted] attempt 1 on %s: spot interruption notice" % first, p.stderr)
        self.assertIn("attempt 2 launched: %s (spot" % second, p.stderr)
        self.assertIn("[running] (attempt 2)", p.stderr)
        self.assertIn("attempt 1 from step 0", p.stdout)
        self.assertIn("attempt 2 from step %d" % result["resumed_from"], p.stdout)
        self.assertIn("step 60", p.stdout)
        self.assertRegex(p.stderr, r"cost: about \$[\d.]+ .*2 attempts, each billed on its own")
        self.assertIn("checkpoint: 2 files", p.stderr)

        # The successor is the laptop's own request replayed: the same type,
        # the job's own profile (its role may launch no other: unit tests).
        spec = self.emu.get_json("jobs/%s/job.json" % job_id)
        params = dict(map(tuple, spec["launch"]["params"]))
        self.assertEqual(params["IamInstanceProfile.Name"], job_id)
        self.assertEqual({i["InstanceType"] for i in insts}, {params["InstanceType"]})
        self.assertFalse({"ClientToken", "Placement.AvailabilityZone"} & set(params))

    def test_2_detached_spot_fallback_relaunches_on_demand_and_results_bring_the_checkpoint(self):
        cp = os.path.join(self.tmp, "cp2")  # not there yet: nothing to seed
        out = os.path.join(self.tmp, "out2")
        p = self.emu.hoist("run", self.project, "-i", self.inp, "-o", out, "--yes", "--spot", "--spot-fallback",
                           "--checkpoint", cp, "--detach", "--", "--steps", "40")
        self.assertEqual(p.returncode, 0, show(p))
        job_id = p.stdout.strip().splitlines()[-1]
        first, saved = self.interrupt_after_a_save(job_id)
        # Nobody follows: the interrupted instance launched its successor.
        st = self.emu.wait_phase(job_id, ("succeeded", "failed", "preempted"), timeout=300)
        self.assertEqual(st["phase"], "succeeded", self.emu.diagnostics(job_id))
        self.assertEqual([(a["attempt"], a["spot"]) for a in st["attempts"]], [(1, True), (2, False)])
        insts = {i["InstanceId"]: i for i in self.emu.job_instances(job_id)}
        self.assertEqual(len(insts), 2, insts)
        self.assertEqual(insts[first].get("InstanceLifecycle"), "spot")
        second = st["attempts"][1]["instance_id"]
        self.assertNotIn("InstanceLifecycle", insts[second])  # on demand
        result = self.emu.objects(BUCKET, "jobs/%s/output/" % job_id)
        self.assertGreaterEqual(json.loads(result["result.json"])["resumed_from"], saved)

        # From any machine: the attempts, the outputs and the checkpoint.
        r = self.emu.hoist("status", job_id)
        self.assertEqual(r.returncode, 0, show(r))
        self.assertIn("attempts:\n  1  %s  spot  " % first, r.stdout)
        self.assertRegex(r.stdout, r"\n  2  %s  on demand  .*  succeeded at " % second)
        self.assertIn("instance:  %s (" % second, r.stdout)
        r = self.emu.hoist("results", job_id, "-o", out, "--checkpoint", cp)
        self.assertEqual(r.returncode, 0, show(r))
        with open(os.path.join(cp, "progress.json")) as f:
            self.assertEqual(json.load(f), {"step": 40})
        self.assertIn("checkpoint: 1 files", r.stderr)
        with open(os.path.join(out, "result.json")) as f:
            self.assertEqual(json.load(f)["attempt"], 2)

    def test_3_bad_recovery_options_are_refused_before_anything_is_made(self):
        before = self.emu.snapshot()
        for args, needle in ((("--spot-retries", "2"), "--spot-retries is for spot jobs: add --spot"),
                             (("--spot-fallback",), "--spot-fallback is for spot jobs"),
                             (("--spot", "--spot-retries", "11"), "--spot-retries 11 is out of range"),
                             (("--checkpoint", "s3://x/y"), "is an S3 location: pass a local folder"),
                             (("--checkpoint", os.path.join(self.inp, "words.txt")), "exists and is not a folder"),
                             (("--checkpoint", self.tmp, "--checkpoint-every", "5s"), "is too often")):
            p = self.emu.hoist("run", self.project, "-i", self.inp, "-o", os.path.join(self.tmp, "o3"),
                               "--yes", *args)
            self.assertEqual(p.returncode, 15, show(p))
            self.assertIn(needle, p.stderr)
            self.assertEqual(len(p.stderr.strip().splitlines()), 1, p.stderr)
        self.assertEqual(self.emu.snapshot(), before)


if __name__ == "__main__":
    unittest.main()
