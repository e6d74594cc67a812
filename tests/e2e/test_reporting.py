"""How `hoist run` speaks: its question on a terminal (answered no, nothing
is created), and `--json`, the run as JSON lines on stdout for scripts and a
dashboard. The real hoist binary against moto + the host runner; outcomes
are checked with boto3, and the events against each other.

    python3 -m unittest tests/e2e/test_reporting.py -v
"""
import json
import os
import pty
import select
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import BUCKET, EXAMPLES, Emulator, release, show, tree  # noqa: E402

WORDCOUNT = os.path.join(EXAMPLES, "wordcount")
WC_INPUT = os.path.join(WORDCOUNT, "sample-input")
PROGRESS = ("launching", "booting", "staging", "building", "running", "uploading")


class JsonLinesTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="hoist-json-e2e-")
        cls.emu = Emulator(cls.tmp).start()

    @classmethod
    def tearDownClass(cls):
        release(cls.emu, cls.tmp)

    def events(self, p):
        lines = [l for l in p.stdout.splitlines() if l.strip()]
        self.assertTrue(lines, show(p))
        try:
            return [json.loads(l) for l in lines]
        except ValueError as e:
            self.fail("stdout is not JSON lines (%s)\n%s" % (e, show(p)))

    def iam_policies(self):
        return sorted(p["Arn"] for p in self.emu.iam.list_policies(Scope="Local")["Policies"])

    def test_0_no_at_the_prompt_creates_nothing(self):
        """On a terminal hoist asks before it creates or launches anything;
        on a cold account, no leaves it cold: no bucket, no repository, no
        boundary."""
        before, policies = self.emu.snapshot(), self.iam_policies()
        leader, follower = pty.openpty()
        p = subprocess.Popen(self.emu.hoist_cmd("run", WORDCOUNT, "-i", WC_INPUT, "-o",
                                                os.path.join(self.tmp, "never")),
                             env=self.emu.base_env(), cwd=self.tmp,
                             stdin=follower, stdout=follower, stderr=follower, close_fds=True)
        os.close(follower)
        seen, deadline = b"", time.time() + 120
        try:
            while b"[Y/n]" not in seen and time.time() < deadline:
                if select.select([leader], [], [], 1)[0]:
                    try:
                        seen += os.read(leader, 4096)
                    except OSError:
                        break
            self.assertIn(b"launch it? [Y/n]", seen, seen.decode(errors="replace"))
            self.assertIn(b"hoist: plan: t3.medium", seen)
            os.write(leader, b"n\n")
            self.assertEqual(p.wait(timeout=60), 23)
            while select.select([leader], [], [], 1)[0]:
                try:
                    chunk = os.read(leader, 4096)
                except OSError:
                    break
                if not chunk:
                    break
                seen += chunk
        finally:
            if p.poll() is None:
                p.kill()
            os.close(leader)
        self.assertIn(b"hoist: not launched", seen)
        self.assertEqual(self.emu.snapshot(), before)
        self.assertEqual(self.iam_policies(), policies)

    def test_1_a_run_as_events(self):
        out = os.path.join(self.tmp, "out")
        p = self.emu.hoist("run", WORDCOUNT, "-i", WC_INPUT, "-o", out, "--yes", "--json", "--", "--top", "3")
        self.assertEqual(p.returncode, 0, show(p))
        events = self.events(p)
        kinds = [e["event"] for e in events]
        for k in ("plan", "job", "staged", "launched", "phase", "log", "ended", "outputs", "console", "cost"):
            self.assertIn(k, kinds, show(p))
        # In the order they happen.
        order = [kinds.index(k) for k in ("plan", "job", "staged", "launched", "ended", "outputs", "cost")]
        self.assertEqual(order, sorted(order), kinds)
        job = next(e for e in events if e["event"] == "job")
        plan = next(e for e in events if e["event"] == "plan")
        self.assertEqual(plan["instance_type"], "t3.medium")
        self.assertTrue(plan["message"].startswith("plan: t3.medium"), plan)
        # Each progress phase once, in order, then the end.
        phases = [e["phase"] for e in events if e["event"] == "phase"]
        progress = [ph for ph in phases if ph in PROGRESS]
        self.assertEqual(progress, [ph for ph in PROGRESS if ph in progress], phases)
        self.assertEqual(len(set(progress)), len(progress), phases)
        self.assertEqual(phases[-1], "succeeded", phases)
        ended = next(e for e in events if e["event"] == "ended")
        self.assertEqual((ended["phase"], ended["exit_status"]), ("succeeded", 0), ended)
        # The log events are the script's output as the instance shipped it.
        logged = "".join(e["text"] for e in events if e["event"] == "log").encode()
        shipped = b"".join(self.emu.objects(BUCKET, "jobs/%s/logs/job/" % job["job_id"]).values())
        self.assertEqual(logged, shipped)
        # The outputs arrived, and the event says so.
        outputs = next(e for e in events if e["event"] == "outputs")
        self.assertEqual(outputs["files"], len(tree(out)))
        self.assertGreater(outputs["files"], 0)
        # The record in S3 agrees (read with boto3).
        status = self.emu.get_json("jobs/%s/status.json" % job["job_id"])
        self.assertEqual(status["phase"], "succeeded")
        # What a person reads still goes nowhere near stdout.
        self.assertNotIn("hoist: plan:", p.stdout)

    def test_2_a_bad_input_is_still_one_error_line_and_its_code(self):
        p = self.emu.hoist("run", WORDCOUNT, "-i", os.path.join(self.tmp, "missing"), "-o",
                           os.path.join(self.tmp, "o2"), "--yes", "--json")
        self.assertEqual(p.returncode, 13, show(p))
        self.assertIn("hoist: error:", p.stderr)


if __name__ == "__main__":
    unittest.main()
