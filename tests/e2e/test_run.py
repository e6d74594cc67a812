"""End-to-end tests of `hoist run` and the job commands: the REAL hoist binary
(HOIST_BIN, else build*/hoist) against moto_server + tools/hostrunner.py on
127.0.0.1; every outcome is checked with an independent boto3 client, never
with hoist itself.  Nothing here talks to real AWS.

    python3 -m unittest tests/e2e/test_run.py -v      (a few minutes)
"""
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (BUCKET, EXAMPLES, CutProxy, Emulator, release, show,  # noqa: E402
                     tree, write_tree)

WORDCOUNT = os.path.join(EXAMPLES, "wordcount")
WC_INPUT = os.path.join(WORDCOUNT, "sample-input")
CSVSTATS = os.path.join(EXAMPLES, "csvstats")
CS_INPUT = os.path.join(CSVSTATS, "sample-input")
BOUNDARY = "arn:aws:iam::123456789012:policy/hoist/hoist-job-boundary"


def as_list(x):
    return x if isinstance(x, list) else [x]
JOB_ID_RE = re.compile(r"^[a-z0-9-]+-\d{8}-\d{6}-[a-z0-9]{4}$")
TERMINAL = ("succeeded", "failed", "cancelled", "preempted", "timed_out")

# A throwaway project: copies every input file to the output unchanged (same
# relative name), prints each name, then optionally sleeps.
MIRROR_MAIN = r'''
import argparse, os, shutil, sys, time
ap = argparse.ArgumentParser()
ap.add_argument("-i", required=True)
ap.add_argument("-o", required=True)
ap.add_argument("--sleep", type=float, default=0)
a = ap.parse_args()
for d, dirs, names in os.walk(a.i):
    for n in sorted(names):
        rel = os.path.relpath(os.path.join(d, n), a.i)
        dst = os.path.join(a.o, rel)
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        shutil.copyfile(os.path.join(d, n), dst)
        print("copied", rel, flush=True)
if a.sleep:
    print("mirror: sleeping %gs" % a.sleep, flush=True)
    time.sleep(a.sleep)
print("mirror done", flush=True)
'''
AWKWARD = {
    "with space.txt": b"spaces\n",
    "sub dir/a b+c=d&e%f.txt": b"plus equals ampersand percent\n",
    "quote's \"double\".txt": b"quotes\n",
    "caf\u00e9/\u65e5\u672c.txt": "non-ASCII \u00e9 \u65e5\u672c\n".encode(),
    "100%+=&.csv": b"a,b\n1,2\n",
}
SMALL = {"a.txt": b"alpha\n", "nested/b.txt": b"beta\n"}
BIG_NAME = "big/fifty mb.bin"
BIG_SIZE = 50 * 1024 * 1024
S3_IN, S3_OUT = "e2e-inputs", "e2e-results"
PYENV = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")


def local_run(project, inp, out, *args):
    """Runs the project's script locally, like hoist would on the instance."""
    os.makedirs(out, exist_ok=True)
    p = subprocess.run([sys.executable, os.path.join(project, "main.py"), "-i", inp, "-o", out]
                       + list(args), env=PYENV, capture_output=True, text=True, timeout=60)
    return p.returncode, tree(out)


def job_id_of(stderr):
    m = re.search(r"hoist: job (\S+) in ", stderr)
    return m.group(1) if m else None


def error_lines(stderr):
    return [l for l in stderr.splitlines() if l.startswith("hoist: error:")]


class E2EBase(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="hoist-run-e2e-")
        cls.emu = Emulator(cls.tmp).start()
        cls.s3, cls.ec2, cls.ecr, cls.iam = cls.emu.s3, cls.emu.ec2, cls.emu.ecr, cls.emu.iam
        cls.mirror = write_tree(os.path.join(cls.tmp, "mirror"),
                                {"main.py": MIRROR_MAIN, "requirements.txt": ""})
        cls.small = write_tree(os.path.join(cls.tmp, "small-input"), SMALL)

    @classmethod
    def tearDownClass(cls):
        release(cls.emu, cls.tmp)

    def mkdtemp(self, name):
        return tempfile.mkdtemp(prefix=name + "-", dir=self.tmp)

    def run_hoist(self, *args, **kw):
        return self.emu.hoist(*args, **kw)

    def assert_job_instance_terminated(self, job_id):
        states = self.emu.wait_instances_terminated(job_id, timeout=30)
        self.assertTrue(states, "no instance tagged hoist:job=%s" % job_id)
        self.assertEqual(set(states), {"terminated"}, "instances of %s: %s\n%s"
                         % (job_id, states, self.emu.diagnostics(job_id)))

    def job_log(self, job_id):
        return b"".join(self.emu.objects(BUCKET, "jobs/%s/logs/job/" % job_id).values())

    def job_roles(self):
        return [r["RoleName"] for r in self.iam.list_roles(PathPrefix="/hoist/jobs/")["Roles"]]

    def assert_job_role(self, job_id, project):
        """The job's own role while it runs: under the boundary, tagged for
        the job, writing only under its own prefix, pushing only to its own
        project's repository."""
        role = self.iam.get_role(RoleName=job_id)["Role"]
        self.assertEqual(role["Path"], "/hoist/jobs/")
        self.assertEqual(role["PermissionsBoundary"]["PermissionsBoundaryArn"], BOUNDARY)
        tags = {t["Key"]: t["Value"] for t in self.iam.list_role_tags(RoleName=job_id)["Tags"]}
        self.assertEqual((tags["hoist:managed"], tags["hoist:job"]), ("true", job_id))
        profile = self.iam.get_instance_profile(InstanceProfileName=job_id)["InstanceProfile"]
        self.assertEqual([r["RoleName"] for r in profile["Roles"]], [job_id])
        (instance,) = self.emu.job_instances(job_id)
        self.assertEqual(instance["IamInstanceProfile"]["Arn"], profile["Arn"])
        doc = self.iam.get_role_policy(RoleName=job_id, PolicyName="job")["PolicyDocument"]
        doc = json.loads(doc) if isinstance(doc, str) else doc
        by_sid = {st["Sid"]: st for st in doc["Statement"]}
        self.assertEqual(by_sid["OwnWrites"]["Resource"], "arn:aws:s3:::%s/jobs/%s/*" % (BUCKET, job_id))
        self.assertEqual(by_sid["OwnImages"]["Resource"],
                         "arn:aws:ecr:us-east-1:123456789012:repository/hoist/" + project)
        spec = self.emu.get_json("jobs/%s/job.json" % job_id)
        blobs = {"arn:aws:s3:::%s/blobs/sha256/%s" % (BUCKET, e["sha256"])
                 for part in ("code", "inputs") for e in spec[part].values()}
        self.assertLessEqual(blobs, set(as_list(by_sid["OwnBlobs"]["Resource"])))
        for st in doc["Statement"]:
            for r in as_list(st["Resource"]):
                self.assertNotIn(r, ("arn:aws:s3:::%s/*" % BUCKET, "arn:aws:s3:::*"), st)


class RunTests(E2EBase):
    """Jobs through `hoist run` on one emulated account."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        emu, bg = cls.emu, {}
        # Jobs that need no other job first start at once, in the background,
        # so that their waits overlap; each test collects its own.
        cls.first_out = os.path.join(cls.tmp, "wc-out")
        bg["first"] = emu.hoist_bg("run", WORDCOUNT, "-i", WC_INPUT, "-o", cls.first_out, "--yes",
                                   "--", "--top", "5")
        cls.fail_in = os.path.join(cls.tmp, "fail-input")
        shutil.copytree(WC_INPUT, cls.fail_in)
        open(os.path.join(cls.fail_in, "FAIL"), "w").close()
        cls.fail_out = os.path.join(cls.tmp, "fail-out")
        bg["fail"] = emu.hoist_bg("run", WORDCOUNT, "-i", cls.fail_in, "-o", cls.fail_out, "--yes")
        cls.s3.create_bucket(Bucket=S3_IN)
        cls.s3.create_bucket(Bucket=S3_OUT)
        for rel, data in tree(WC_INPUT).items():
            cls.s3.put_object(Bucket=S3_IN, Key="datasets/wc/" + rel, Body=data)
        cls.s3.put_object(Bucket=S3_IN, Key="datasets/other/x.txt", Body=b"not mine\n")
        cls.s3_cwd = os.path.join(cls.tmp, "s3-cwd")
        os.makedirs(cls.s3_cwd)
        bg["s3"] = emu.hoist_bg("run", WORDCOUNT, "-i", "s3://%s/datasets/wc/" % S3_IN,
                                "-o", "s3://%s/results/" % S3_OUT, "--yes", "--spot", cwd=cls.s3_cwd)
        cls.big = os.urandom(BIG_SIZE)
        cls.awkward_in = write_tree(os.path.join(cls.tmp, "awkward-input"),
                                    dict(AWKWARD, **{BIG_NAME: cls.big}))
        cls.awkward_out = os.path.join(cls.tmp, "awkward-out")
        bg["awkward"] = emu.hoist_bg("run", cls.mirror, "-i", cls.awkward_in, "-o",
                                     cls.awkward_out, "--yes")
        # A GPU job on an image of the user's choosing (--image): the emulator
        # has no Deep Learning AMI parameter, but it has images.
        cls.gpu_ami = cls.ec2.describe_images(Filters=[
            {"Name": "name", "Values": ["Deep Learning AMI Amazon Linux*"]},
            {"Name": "architecture", "Values": ["x86_64"]}])["Images"][0]["ImageId"]
        cls.gpu_out = os.path.join(cls.tmp, "gpu-out")
        bg["gpu"] = emu.hoist_bg("run", cls.mirror, "-i", cls.small, "-o", cls.gpu_out, "--yes",
                                 "--gpus", "1", "--image", cls.gpu_ami)
        cls.timeout_out = os.path.join(cls.tmp, "timeout-out")
        bg["timeout"] = emu.hoist_bg("run", cls.mirror, "-i", cls.small, "-o", cls.timeout_out,
                                     "--yes", "--max-runtime", "20s", "--", "--sleep", "120")
        # --disk 8 is below the emulator's images' 15 GiB root snapshot
        cls.cancel_run = emu.hoist("run", cls.mirror, "-i", cls.small, "-o",
                                   os.path.join(cls.tmp, "cancel-out"), "--yes", "--detach",
                                   "--disk", "8", "--", "--sleep", "300")
        # wait until every upload is over (test_04 compares the blobs)
        for run in bg.values():
            run.wait_stderr("hoist: launched", timeout=180)
        cls.bg = bg
        cls.bg_jobs = {name: job_id_of(run.stderr) for name, run in bg.items()}
        cls.bg_jobs["cancel"] = cls.cancel_run.stdout.strip()

    @classmethod
    def tearDownClass(cls):
        for run in cls.bg.values():
            if run.proc.poll() is None:
                run.kill()
        super().tearDownClass()

    def collect(self, name, timeout=240):
        """(CompletedProcess, job id) of a background run."""
        return self.bg[name].result(timeout), self.bg_jobs[name]

    def test_01_success(self):
        p, job_id = self.collect("first")
        out = self.first_out
        self.assertEqual(p.returncode, 0, show(p) + self.emu.diagnostics(job_id))
        self.assertRegex(job_id, JOB_ID_RE)
        rc, expected = local_run(WORDCOUNT, WC_INPUT, self.mkdtemp("wc-local"), "--top", "5")
        self.assertEqual(rc, 0)
        self.assertEqual(sorted(expected), ["counts.csv", "report.md", "summary.yaml"])
        got = tree(out)
        self.assertEqual(sorted(got), sorted(expected))
        for rel in expected:
            self.assertEqual(got[rel], expected[rel], rel)
        # the instance is gone; what is kept is kept; nothing else runs
        self.assert_job_instance_terminated(job_id)
        self.s3.head_bucket(Bucket=BUCKET)
        repo = self.ecr.describe_repositories(repositoryNames=["hoist/wordcount"])["repositories"]
        self.assertEqual(len(repo), 1)
        others = {i["InstanceId"] for name, b in self.bg_jobs.items() if name != "first" and b
                  for i in self.emu.job_instances(b)}
        self.assertEqual(set(self.emu.live_hoist_instances()) - others, set())
        # the job as stored in S3
        spec = self.emu.get_json("jobs/%s/job.json" % job_id)
        self.assertIsNotNone(spec, "job.json missing")
        self.assertEqual(spec["job_id"], job_id)
        self.assertEqual(spec["args"], ["--top", "5"])
        self.assertEqual(sorted(spec["inputs"]), ["alice.txt"] + sorted(
            "more/" + n for n in os.listdir(os.path.join(WC_INPUT, "more"))))
        st = self.emu.status(job_id)
        self.assertIsNotNone(st, "status.json missing")
        self.assertEqual(st["phase"], "succeeded")
        self.assertEqual(st["exit_code"], 0)
        self.assertEqual(self.emu.objects(BUCKET, "jobs/%s/output/" % job_id), expected)
        # the script's prints on stdout, the console link on stderr
        self.assertIn("wordcount: 3 input files", p.stdout)
        self.assertIn("top 5 written", p.stdout)
        links = [l for l in p.stderr.splitlines() if "https://s3.console.aws.amazon.com/" in l]
        self.assertTrue(links, p.stderr)
        self.assertIn(BUCKET, links[0])
        self.assertIn("prefix=jobs/%s/output/" % job_id, links[0])

    def test_02_script_failure(self):
        p, job_id = self.collect("fail")
        inp, out = self.fail_in, self.fail_out
        self.assertEqual(p.returncode, 3, show(p) + self.emu.diagnostics(job_id))
        rc, expected = local_run(WORDCOUNT, inp, self.mkdtemp("fail-local"))
        self.assertEqual(rc, 3)
        self.assertEqual(sorted(expected), ["counts.csv"])
        self.assertEqual(tree(out), expected)  # partial outputs downloaded
        self.assertEqual(self.emu.objects(BUCKET, "jobs/%s/output/" % job_id), expected)
        log = self.emu.objects(BUCKET, "jobs/%s/logs/job/" % job_id)
        self.assertTrue(log, "no logs/job/ objects")
        self.assertIn(b"FAIL marker", b"".join(log[k] for k in sorted(log)))
        st = self.emu.status(job_id)
        self.assertEqual((st["phase"], st["exit_code"]), ("failed", 3))
        self.assert_job_instance_terminated(job_id)

    def test_03_s3_input_and_output(self):
        in_bucket, out_bucket, cwd = S3_IN, S3_OUT, self.s3_cwd
        p, job_id = self.collect("s3")
        self.assertEqual(p.returncode, 0, show(p) + self.emu.diagnostics(job_id))
        _, expected = local_run(WORDCOUNT, WC_INPUT, self.mkdtemp("s3-local"))
        self.assertEqual(self.emu.objects(out_bucket, "results/"), expected)
        self.assertEqual(os.listdir(cwd), [], "hoist wrote files locally")
        spec = self.emu.get_json("jobs/%s/job.json" % job_id)
        self.assertEqual(spec["inputs"], {})
        self.assertEqual(spec["input_s3"], "s3://%s/datasets/wc/" % in_bucket)
        self.assertEqual(self.emu.objects(BUCKET, "jobs/%s/output/" % job_id), {})
        self.assert_job_instance_terminated(job_id)
        # --spot: a spot instance, priced from the spot market before and after
        (inst,) = self.emu.job_instances(job_id)
        self.assertEqual(inst.get("InstanceLifecycle"), "spot", inst)
        self.assertTrue(spec["resources"]["spot"])
        # the emulator prices every zone the same: the first by name is the cheapest
        self.assertIn("plan: t3.medium (2 vCPU, 4 GiB), spot, ", p.stderr)
        zone = re.search(r"price: \$[\d.]+/h spot in (us-east-1[a-z]) \(DescribeSpotPriceHistory, now\)", p.stderr)
        self.assertIsNotNone(zone, p.stderr)
        self.assertEqual(zone[1], "us-east-1a")
        self.assertEqual(inst["Placement"]["AvailabilityZone"], zone[1])
        self.assertIn("(t3.medium in us-east-1a)", p.stderr)
        self.assertRegex(p.stderr, r"cost: about \$\d.* \(t3\.medium spot for ")
        # the job's role, which alone could reach the foreign buckets, is gone with the job
        self.assertNotIn(job_id, self.job_roles())

    def test_04_rerun_sends_nothing_and_reuses_image(self):
        p1, job1 = self.collect("first")
        self.assertEqual(p1.returncode, 0, show(p1))
        before = self.emu.listing(BUCKET, "blobs/sha256/")
        self.assertTrue(before)
        time.sleep(1.1)  # so that a rewrite would show in LastModified
        dry = self.run_hoist("run", WORDCOUNT, "-i", WC_INPUT, "-o", self.mkdtemp("wc-dry"), "--yes",
                             "--dry-run")
        self.assertEqual(dry.returncode, 0, show(dry))
        self.assertRegex(dry.stderr, r"would upload 0 of (\d+) files \(0 B\); \1 already in the bucket")
        out = self.mkdtemp("wc-rerun")
        p = self.run_hoist("run", WORDCOUNT, "-i", WC_INPUT, "-o", out, "--yes", "--",
                           "--top", "5")
        job2 = job_id_of(p.stderr)
        self.assertEqual(p.returncode, 0, show(p) + self.emu.diagnostics(job2))
        self.assertNotEqual(job1, job2)
        m = re.search(r"staged (\d+) files .*: sent (\d+) \(([^,]+),.*skipped (\d+)", p.stderr)
        self.assertIsNotNone(m, p.stderr)
        files, sent, sent_bytes, skipped = int(m[1]), int(m[2]), m[3], int(m[4])
        self.assertEqual(sent, 0, m[0])
        self.assertEqual(skipped, files, m[0])
        self.assertRegex(sent_bytes, r"^0(\.0+)? ?B$", m[0])
        # nor were the unchanged files read again to hash them
        self.assertRegex(p.stderr, r"(\d+) of \1 files unchanged since they were last hashed")
        self.assertEqual(self.emu.listing(BUCKET, "blobs/sha256/"), before,
                         "blobs were added or rewritten by an unchanged re-run")
        spec1 = self.emu.get_json("jobs/%s/job.json" % job1)
        spec2 = self.emu.get_json("jobs/%s/job.json" % job2)
        self.assertEqual(spec2["inputs"], spec1["inputs"])
        self.assertEqual(spec2["image"]["key"], spec1["image"]["key"])
        st = self.emu.status(job2)
        self.assertEqual(st["phase"], "succeeded")
        self.assertIs(st["image"]["reused"], True)
        self.assertEqual(st["image"]["key"], spec1["image"]["key"])

    def test_04b_hash_cache_trusts_only_unchanged_files(self):
        """A re-run does not read unchanged inputs again (hoist's local hash
        cache), yet a file rewritten with the same size and its old mtime put
        back is read again and staged with its new content."""
        d = self.mkdtemp("cache-in")
        files = {"a.txt": b"0123456789", "b.txt": b"abcdefghij", "c.txt": b"ABCDEFGHIJ"}
        old = time.time() - 3600
        for name, data in files.items():
            with open(os.path.join(d, name), "wb") as f:
                f.write(data)
            os.utime(os.path.join(d, name), (old, old))
        time.sleep(2.2)  # past the racy window: the files' ctimes are settled

        def run(*extra):
            p = self.run_hoist("run", self.mirror, "-i", d, "-o", self.mkdtemp("cache-out"), "--yes", "--detach",
                               *extra)
            self.assertEqual(p.returncode, 0, show(p))
            spec = self.emu.get_json("jobs/%s/job.json" % p.stdout.strip())
            return p, {name: e["sha256"] for name, e in spec["inputs"].items()}

        def sha(data):
            return hashlib.sha256(data).hexdigest()

        p1, inputs1 = run()
        self.assertEqual(inputs1, {n: sha(b) for n, b in files.items()})
        p2, inputs2 = run()
        self.assertEqual(inputs2, inputs1)
        m = re.search(r"(\d+) of (\d+) files unchanged since they were last hashed", p2.stderr)
        self.assertIsNotNone(m, p2.stderr)
        self.assertEqual(m[1], m[2], m[0])  # every input and code file came from the cache

        st = os.stat(os.path.join(d, "a.txt"))
        with open(os.path.join(d, "a.txt"), "wb") as f:
            f.write(b"9876543210")  # same size
        os.utime(os.path.join(d, "a.txt"), ns=(st.st_atime_ns, st.st_mtime_ns))  # same mtime
        p3, inputs3 = run()
        self.assertEqual(inputs3["a.txt"], sha(b"9876543210"), p3.stderr)
        self.assertEqual({k: v for k, v in inputs3.items() if k != "a.txt"},
                         {k: v for k, v in inputs1.items() if k != "a.txt"})
        blob = self.s3.get_object(Bucket=BUCKET, Key="blobs/sha256/" + sha(b"9876543210"))["Body"].read()
        self.assertEqual(blob, b"9876543210")

        p4, inputs4 = run("--rehash")
        self.assertEqual(inputs4, inputs3)
        self.assertNotIn("unchanged since they were last hashed", p4.stderr)

    def test_05_awkward_names_and_multipart(self):
        p, job_id = self.collect("awkward")
        big, out = self.big, self.awkward_out
        self.assertEqual(p.returncode, 0, show(p) + self.emu.diagnostics(job_id))
        want = dict(AWKWARD, **{BIG_NAME: big})
        got = tree(out)
        self.assertEqual(sorted(got), sorted(want))  # names exactly
        for rel in want:
            self.assertTrue(got[rel] == want[rel], "content differs: %r" % rel)
        spec = self.emu.get_json("jobs/%s/job.json" % job_id)
        self.assertEqual(sorted(spec["inputs"]), sorted(want))
        out_keys = self.emu.listing(BUCKET, "jobs/%s/output/" % job_id)
        self.assertEqual(sorted(k.split("/output/", 1)[1] for k in out_keys), sorted(want))
        for rel in AWKWARD:
            self.assertIn("copied " + rel, p.stdout)
        sha = hashlib.sha256(big).hexdigest()
        self.assertEqual(spec["inputs"][BIG_NAME]["sha256"], sha)
        head = self.s3.head_object(Bucket=BUCKET, Key="blobs/sha256/" + sha)
        self.assertEqual(head["ContentLength"], BIG_SIZE)
        self.assertIn("-", head["ETag"], "a 50 MB input was not sent as a multipart upload")
        self.assert_job_instance_terminated(job_id)

    def test_06_ctrl_c_detaches_and_the_job_goes_on(self):
        run = self.emu.hoist_bg("run", self.mirror, "-i", self.small, "-o", self.mkdtemp("ctrl-c-out"),
                                "--yes", "--", "--sleep", "8")
        self.assertTrue(run.wait_stderr("hoist: [running]", timeout=120), run.stderr)
        job_id = job_id_of(run.stderr)
        run.proc.send_signal(signal.SIGINT)
        rc = run.wait(timeout=60)
        self.assertEqual(rc, 130, run.stderr)
        self.assertIn("detached", run.stderr)
        self.assertIn("hoist logs %s -f" % job_id, run.stderr)
        self.assertIn("hoist cancel %s" % job_id, run.stderr)
        self.assertEqual(error_lines(run.stderr), [])
        # the job is not stopped by the laptop leaving: it ends by itself
        st = self.emu.wait_phase(job_id, TERMINAL, timeout=120)
        self.assertEqual(st and st["phase"], "succeeded", "%s\n%s" % (st, self.emu.diagnostics(job_id)))
        self.assert_job_instance_terminated(job_id)

    def test_07_detach_status_logs_results_ls(self):
        out = self.mkdtemp("detach-out")
        t0 = time.time()
        p = self.run_hoist("run", self.mirror, "-i", self.small, "-o", out, "--yes", "--detach",
                           "--", "--sleep", "6")
        took = time.time() - t0
        self.assertEqual(p.returncode, 0, show(p))
        job_id = p.stdout.strip()
        self.assertRegex(job_id, JOB_ID_RE)
        st = self.emu.status(job_id)
        self.assertNotIn(st["phase"], TERMINAL, "hoist --detach waited for the job (%.1fs)" % took)
        self.assert_job_role(job_id, "mirror")
        self.assertEqual(os.listdir(out), [])
        deadline = time.time() + 150
        while True:
            s = self.run_hoist("status", job_id, timeout=60)
            self.assertEqual(s.returncode, 0, show(s))
            m = re.search(r"^phase:\s+(\S+)", s.stdout, re.M)
            self.assertIsNotNone(m, s.stdout)
            if m[1] in TERMINAL or time.time() > deadline:
                break
            time.sleep(2)
        self.assertEqual(m[1], "succeeded", s.stdout + self.emu.diagnostics(job_id))
        self.assertEqual(self.emu.status(job_id)["phase"], "succeeded")
        logs = self.run_hoist("logs", job_id, timeout=60)
        self.assertEqual(logs.returncode, 0, show(logs))
        for rel in SMALL:
            self.assertIn("copied " + rel, logs.stdout)
        self.assertIn("mirror done", logs.stdout)
        dest = os.path.join(self.mkdtemp("detach-results"), "dl")
        r = self.run_hoist("results", job_id, "-o", dest, timeout=60)
        self.assertEqual(r.returncode, 0, show(r))
        self.assertEqual(tree(dest), SMALL)
        ls = self.run_hoist("ls", timeout=60)
        self.assertEqual(ls.returncode, 0, show(ls))
        rows = [l.split() for l in ls.stdout.splitlines()]
        self.assertIn([job_id, "succeeded"], [r[:2] for r in rows])
        self.assert_job_instance_terminated(job_id)

    def test_08_cancel(self):
        p, job_id = self.cancel_run, self.bg_jobs["cancel"]
        self.assertEqual(p.returncode, 0, show(p))
        self.assertRegex(job_id, JOB_ID_RE)
        st = self.emu.wait_phase(job_id, ("running",) + TERMINAL, timeout=90)
        self.assertEqual(st and st["phase"], "running", "%s\n%s" % (st, self.emu.diagnostics(job_id)))
        # EC2 refuses a root disk smaller than the image's snapshot: hoist
        # read the image's size (15 GiB here) and said so.
        self.assertIn("disk: 15 GiB, the size of the image itself (asked 8)", p.stderr)
        self.assertRegex(p.stderr, r"plan: .*, 15 GiB disk")
        (inst,) = self.emu.job_instances(job_id)
        root = [m for m in inst["BlockDeviceMappings"] if m["DeviceName"] == inst["RootDeviceName"]]
        self.assertEqual(len(root), 1, inst["BlockDeviceMappings"])
        volume = self.ec2.describe_volumes(VolumeIds=[root[0]["Ebs"]["VolumeId"]])["Volumes"][0]
        self.assertEqual(volume["Size"], 15)
        spec = self.emu.get_json("jobs/%s/job.json" % job_id)
        self.assertEqual(spec["resources"]["disk_gib"], 15)
        c = self.run_hoist("cancel", job_id, "--grace", "40", timeout=90)
        self.assertEqual(c.returncode, 0, show(c))
        st = self.emu.status(job_id)
        self.assertEqual(st["phase"], "cancelled", "%s\n%s" % (st, self.emu.diagnostics(job_id)))
        self.assert_job_instance_terminated(job_id)
        self.assertEqual(self.emu.objects(BUCKET, "jobs/%s/output/" % job_id), SMALL)

    def test_09_max_runtime(self):
        run, job_id = self.bg["timeout"], self.bg_jobs["timeout"]
        self.assertIsNotNone(job_id, run.stderr)
        rc = run.wait(timeout=180)
        took = (run.ended or time.time()) - run.t0
        self.assertEqual(rc, 22, "exit %s\n%s\n%s" % (rc, run.stderr, self.emu.diagnostics(job_id)))
        self.assertLess(took, 150, "timed out only after %.0fs" % took)
        st = self.emu.status(job_id)
        self.assertEqual(st["phase"], "timed_out", st)
        self.assert_job_instance_terminated(job_id)

    def test_10_gpu_on_an_image_of_ones_own(self):
        p, job_id = self.collect("gpu")
        if self.emu.runtime == "docker":
            # This machine has no GPU: a job that asked for one is refused
            # on the instance rather than run on the CPU unnoticed.
            self.assertEqual(p.returncode, 20, show(p) + self.emu.diagnostics(job_id))
            st = self.emu.status(job_id)
            self.assertEqual(st["phase"], "failed", st)
            self.assertIn("nvidia-smi found no working NVIDIA driver", st["error"])
        else:
            self.assertEqual(p.returncode, 0, show(p) + self.emu.diagnostics(job_id))
            self.assertEqual(tree(self.gpu_out), SMALL)
        plan = re.search(r"plan: (\S+) .*1x ", p.stderr)
        self.assertIsNotNone(plan, p.stderr)
        (inst,) = self.emu.job_instances(job_id)
        self.assertEqual(inst["ImageId"], self.gpu_ami)
        self.assertEqual(inst["InstanceType"], plan[1])
        spec = self.emu.get_json("jobs/%s/job.json" % job_id)
        self.assertEqual(spec["resources"]["ami"], self.gpu_ami)
        self.assertEqual(spec["resources"]["instance_type"], plan[1])
        self.assertGreaterEqual(spec["resources"]["gpus"], 1)
        self.assert_job_instance_terminated(job_id)

    def test_11_following_waits_out_a_lost_network(self):
        # hoist talks to the emulator through a line that is cut for a while
        # as the job runs; the instance (the host runner) is not affected.
        proxy = CutProxy(self.emu.port)
        self.addCleanup(proxy.close)
        out = os.path.join(self.tmp, "cut-out")
        run = self.emu.hoist_bg("run", self.mirror, "-i", self.small, "-o", out, "--yes",
                                "--endpoint-url", proxy.endpoint, "--", "--sleep", "12")
        self.assertTrue(run.wait_stderr("[running]", timeout=180), run.stderr)
        proxy.cut()
        time.sleep(8)
        proxy.restore()
        p = run.result(timeout=180)
        job_id = job_id_of(p.stderr)
        self.assertEqual(p.returncode, 0, show(p) + self.emu.diagnostics(job_id))
        self.assertIn("hoist: warning: lost contact with AWS (NetworkError)", p.stderr)
        self.assertRegex(p.stderr, r"hoist: back in contact with AWS after \d+s")
        self.assertIn("mirror done", p.stdout)  # the script's log still came through
        self.assertEqual(tree(out), SMALL)
        self.assert_job_instance_terminated(job_id)

    def test_99_nothing_left_running(self):
        for name in self.bg:
            self.bg[name].wait(timeout=240)
        deadline = time.time() + 30
        while self.emu.live_hoist_instances() and time.time() < deadline:
            time.sleep(0.5)
        self.assertEqual(self.emu.live_hoist_instances(), [])


class KeepAliveTests(unittest.TestCase):
    """moto served over HTTP/1.1 keep-alive, as AWS serves (moto_server
    closes every connection, so nothing else here sees connection reuse)."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="hoist-keepalive-e2e-")
        # S3 closes a connection idle for about 20 s; here 1 s, so that the
        # follower, polling every 2 s, finds its connections closed each time.
        cls.emu = Emulator(cls.tmp, runner=False, server="keepalive",
                           server_args=["--idle-timeout", "1"]).start()

    @classmethod
    def tearDownClass(cls):
        cls.emu.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_staging_reuses_connections_then_a_job_runs(self):
        files = {"part%d/f%03d.txt" % (i // 100, i): "line %d\n" % i * (i + 1) for i in range(300)}
        many = write_tree(os.path.join(self.tmp, "many"), files)
        conns0, reqs0 = self.emu.traffic()
        p = self.emu.hoist("run", WORDCOUNT, "-i", many, "-o", os.path.join(self.tmp, "many-out"),
                           "--yes", "--detach")
        self.assertEqual(p.returncode, 0, show(p))
        conns, reqs = (a - b for a, b in zip(self.emu.traffic(), (conns0, reqs0)))
        job_id = p.stdout.strip()
        spec = self.emu.get_json("jobs/%s/job.json" % job_id)
        self.assertEqual(sorted(spec["inputs"]), sorted(files))
        for rel, data in files.items():  # every blob arrived whole
            digest = spec["inputs"][rel]["sha256"]
            body = self.emu.s3.get_object(Bucket=BUCKET, Key="blobs/sha256/" + digest)["Body"].read()
            self.assertEqual(body, data.encode(), rel)
        # 300 blob PUTs and the account's probes on a few dozen connections
        # at most: one per worker thread, kept, not one per request.
        self.assertGreater(reqs, 300)
        self.assertLess(conns * 5, reqs, "%d connections for %d requests" % (conns, reqs))

        # A whole job, followed to its end, on kept connections.
        self.emu.start_runner()
        out = os.path.join(self.tmp, "wc-out")
        p = self.emu.hoist("run", WORDCOUNT, "-i", WC_INPUT, "-o", out, "--yes")
        self.assertEqual(p.returncode, 0, show(p))
        rc, expected = local_run(WORDCOUNT, WC_INPUT, os.path.join(self.tmp, "wc-local"))
        self.assertEqual(rc, 0)
        self.assertEqual(tree(out), expected)
        job_id = job_id_of(p.stderr)
        self.assertEqual(set(self.emu.wait_instances_terminated(job_id, timeout=30)), {"terminated"})


class FreshAccountTests(E2EBase):
    """Bad inputs and --dry-run create nothing; then two first runs at once."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.s3.create_bucket(Bucket="e2e-half-empty")
        cls.s3.put_object(Bucket="e2e-half-empty", Key="elsewhere/x.txt", Body=b"x\n")
        cls.out = os.path.join(cls.tmp, "bad-out")

    def check_refused(self, what, args, code):
        before = self.emu.snapshot()
        p = self.run_hoist("run", *args, "--yes", timeout=60)
        self.assertEqual(p.returncode, code, show(p))
        errs = error_lines(p.stderr)
        self.assertEqual(len(errs), 1, show(p))
        self.assertEqual(p.stderr.rstrip("\n").splitlines()[-1], errs[0], show(p))
        self.assertGreater(len(errs[0]), len("hoist: error: ") + 10)
        self.assertEqual(p.stdout, "")
        self.assertFalse(os.path.exists(self.out), "created the output folder")
        self.assertEqual(self.emu.snapshot(), before, "%s: created something in AWS" % what)

    def test_1_bad_local_inputs(self):
        no_req = write_tree(self.mkdtemp("no-req"), {"main.py": "print(1)\n"})
        no_main = write_tree(self.mkdtemp("no-main"), {"other.py": "", "requirements.txt": ""})
        a_file = os.path.join(self.tmp, "a-file")
        with open(a_file, "w") as f:
            f.write("x\n")
        out = self.out
        cases = [
            ("missing project", [os.path.join(self.tmp, "nope"), "-i", self.small, "-o", out], 10),
            ("no requirements.txt", [no_req, "-i", self.small, "-o", out], 11),
            ("no main.py", [no_main, "-i", self.small, "-o", out], 12),
            ("--script missing", [self.mirror, "--script", "other.py", "-i", self.small, "-o", out], 12),
            ("missing input", [self.mirror, "-i", os.path.join(self.tmp, "no-input"), "-o", out], 13),
            ("output is a file", [self.mirror, "-i", self.small, "-o", a_file], 14),
            ("bad --max-runtime", [self.mirror, "-i", self.small, "-o", out, "--max-runtime", "abc"], 15),
            ("bad --instance-type", [self.mirror, "-i", self.small, "-o", out, "--instance-type", "nope"], 15),
            ("--image not an AMI id", [self.mirror, "-i", self.small, "-o", out, "--image", "al2023"], 15),
            # the command line itself: status 2, one line, as documented
            ("--disk not a number", [self.mirror, "-i", self.small, "-o", out, "--disk", "big"], 2),
            ("an unknown option", [self.mirror, "-i", self.small, "-o", out, "--colour"], 2),
            ("no project", ["-i", self.small, "-o", out], 2),
        ]
        for what, args, code in cases:
            with self.subTest(what):
                self.check_refused(what, args, code)
        self.assertEqual(self.emu.snapshot()["buckets"], ["e2e-half-empty"])

    # The account-level resources are only probed until the user's own s3://
    # locations and the image to boot have been checked: a bad one leaves the
    # account untouched.
    def test_1b_bad_s3_locations(self):
        arm64 = self.ec2.describe_images(
            Filters=[{"Name": "architecture", "Values": ["arm64"]}])["Images"][0]["ImageId"]
        cases = [
            ("empty s3 input prefix", [self.mirror, "-i", "s3://e2e-half-empty/nothing-here/", "-o", self.out], 13),
            ("s3 output bucket missing", [self.mirror, "-i", self.small, "-o", "s3://e2e-no-such-bucket/r/"], 14),
            # The emulator has no GPU image (no Deep Learning AMI parameter in
            # its SSM): a region without the image fails before creating.
            ("no GPU image in the region", [self.mirror, "-i", self.small, "-o", self.out, "--gpus", "1"], 20),
            ("--image not in the region",
             [self.mirror, "-i", self.small, "-o", self.out, "--image", "ami-0123456789abcdef0"], 16),
            ("--image of another architecture",
             [self.mirror, "-i", self.small, "-o", self.out, "--image", arm64, "--instance-type", "t3.small"], 15),
        ]
        for what, args, code in cases:
            with self.subTest(what):
                self.check_refused(what, args, code)

    # Issue 15: values hoist took without a word, each launching a job.
    def test_1c_odd_values_are_refused(self):
        small, out = self.small, self.out
        cases = [
            ("--disk 0", [self.mirror, "-i", small, "-o", out, "--disk", "0"], 15),
            ("--disk negative", [self.mirror, "-i", small, "-o", out, "--disk=-5"], 15),
            # moto offers per region what AWS does (its instance_type_offerings data)
            ("a type no region offers", [self.mirror, "-i", small, "-o", out, "--instance-type", "zz9.bogus"], 15),
            ("... also in a dry run",
             [self.mirror, "-i", small, "-o", out, "--instance-type", "zz9.bogus", "--dry-run"], 15),
            ("a --cpus pick the region lacks",  # ca-west-1 has no c7i/m7i
             [self.mirror, "-i", small, "-o", out, "--cpus", "4", "--instance-type", "c7i.xlarge",
              "--region", "ca-west-1"], 15),
            ("the default type where it is not offered",
             [self.mirror, "-i", small, "-o", out, "--region", "me-central-1"], 15),
        ]
        for what, args, code in cases:
            with self.subTest(what):
                self.check_refused(what, args, code)
        p = self.run_hoist("run", self.mirror, "-i", small, "-o", out, "--instance-type", "zz9.bogus", "--yes")
        self.assertIn("zz9.bogus is not offered in us-east-1: pick another --instance-type or --region",
                      error_lines(p.stderr)[0])
        p = self.run_hoist("run", self.mirror, "-i", small, "-o", out, "--instance-type", "t3.mediun", "--yes")
        self.assertIn("(offered there: t3.medium", error_lines(p.stderr)[0])

    def test_1d_special_files_and_links(self):
        """A FIFO, a socket, a link to nothing or a loop in the input (or the
        project) is refused naming it; links to files and folders are
        followed, as `aws s3 sync` does."""
        def folder(name, make):
            d = write_tree(self.mkdtemp(name), {"a.txt": "a\n"})
            make(d)
            return d

        def sock(d):
            s = socket.socket(socket.AF_UNIX)
            s.bind(os.path.join(d, "sock"))
            s.close()

        fifo = folder("fifo-in", lambda d: os.mkfifo(os.path.join(d, "pipe")))
        sock_in = folder("sock-in", sock)
        dangling = folder("dangling-in", lambda d: os.symlink("gone.txt", os.path.join(d, "link")))
        loop = folder("loop-in", lambda d: (os.mkdir(os.path.join(d, "sub")),
                                            os.symlink("..", os.path.join(d, "sub", "up"))))
        project = write_tree(self.mkdtemp("fifo-project"), {"main.py": MIRROR_MAIN, "requirements.txt": ""})
        os.mkfifo(os.path.join(project, "pipe"))
        out = self.out
        cases = [
            ("a FIFO in the input", [self.mirror, "-i", fifo, "-o", out], 13, "pipe is a FIFO"),
            ("a FIFO as the input", [self.mirror, "-i", os.path.join(fifo, "pipe"), "-o", out], 13,
             "pipe is a FIFO"),
            ("a socket in the input", [self.mirror, "-i", sock_in, "-o", out], 13, "sock is a socket"),
            ("a link to nothing", [self.mirror, "-i", dangling, "-o", out], 13, "link is a symbolic link to nothing"),
            ("a loop", [self.mirror, "-i", loop, "-o", out], 13, "up is a symbolic link to a folder that holds it"),
            ("a FIFO in the project", [project, "-i", self.small, "-o", out], 10, ".hoistignore"),
        ]
        for what, args, code, says in cases:
            with self.subTest(what):
                self.check_refused(what, args, code)
                self.assertIn(says, error_lines(self.run_hoist("run", *args, "--yes").stderr)[0])

        linked = write_tree(self.mkdtemp("linked-in"), {"own.txt": "own\n"})
        os.symlink(self.small, os.path.join(linked, "folder"))
        os.symlink(os.path.join(self.small, "a.txt"), os.path.join(linked, "file.txt"))
        p = self.run_hoist("run", self.mirror, "-i", linked, "-o", out, "--yes", "--dry-run")
        self.assertEqual(p.returncode, 0, show(p))
        # own.txt, file.txt, folder/a.txt, folder/nested/b.txt
        self.assertIn("4 input files", p.stderr)

    def test_2_dry_run(self):
        before = self.emu.snapshot()
        out = os.path.join(self.tmp, "dry-out")
        p = self.run_hoist("run", WORDCOUNT, "-i", WC_INPUT, "-o", out, "--yes", "--dry-run",
                           timeout=60)
        self.assertEqual(p.returncode, 0, show(p))
        text = p.stdout + p.stderr
        self.assertRegex(text, r"plan: .*t3\.medium")
        self.assertRegex(text, r"\$\d+\.\d+")
        self.assertIn("would be created", text)
        m = re.search(r"would upload (\d+) of (\d+) files .*; 0 already in the bucket", text)
        self.assertIsNotNone(m, text)
        self.assertEqual(m[1], m[2])
        self.assertFalse(os.path.exists(out))
        self.assertEqual(self.emu.snapshot(), before, "--dry-run created something in AWS")

    def test_3_two_first_runs_at_once(self):
        self.emu.reset()  # a fresh account even if an earlier test leaked something
        self.assertEqual(self.emu.snapshot()["buckets"], [])
        results = {}

        def go(name, project, inp):
            out = os.path.join(self.tmp, "race-" + name)
            results[name] = (self.run_hoist("run", project, "-i", inp, "-o", out, "--yes"), out)

        threads = [threading.Thread(target=go, args=a) for a in
                   (("wordcount", WORDCOUNT, WC_INPUT), ("csvstats", CSVSTATS, CS_INPUT))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for name, project, inp in (("wordcount", WORDCOUNT, WC_INPUT), ("csvstats", CSVSTATS, CS_INPUT)):
            p, out = results[name]
            job_id = job_id_of(p.stderr)
            self.assertEqual(p.returncode, 0, name + ": " + show(p) + self.emu.diagnostics(job_id))
            rc, expected = local_run(project, inp, os.path.join(self.tmp, "race-local-" + name))
            self.assertEqual(rc, 0)
            self.assertEqual(tree(out), expected, name)
            self.assert_job_instance_terminated(job_id)
        snap = self.emu.snapshot()
        self.assertIn(BUCKET, snap["buckets"])
        self.assertEqual(sorted(r for r in snap["repositories"] if r.startswith("hoist/")),
                         ["hoist/csvstats", "hoist/wordcount"])
        # each job's role went with its job; no role is shared between jobs
        self.assertEqual([r for r in snap["roles"] if r.startswith("hoist")], [])
        self.assertEqual([r for r in snap["instance_profiles"] if r.startswith("hoist")], [])
        self.assertEqual(self.job_roles(), [])
        self.assertEqual(self.emu.live_hoist_instances(), [])
        self.assert_account_configured()

    def assert_account_configured(self):
        """The account-level resources the first runs created: hardened
        bucket, repositories with their lifecycle policy, one least-privilege
        instance role inside its profile, all tagged."""
        managed = {"Key": "hoist:managed", "Value": "true"}
        pab = self.s3.get_public_access_block(Bucket=BUCKET)["PublicAccessBlockConfiguration"]
        self.assertEqual(set(pab.values()), {True}, pab)
        rules = self.s3.get_bucket_encryption(Bucket=BUCKET)["ServerSideEncryptionConfiguration"]["Rules"]
        self.assertEqual(rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"], "AES256")
        self.assertIn(managed, self.s3.get_bucket_tagging(Bucket=BUCKET)["TagSet"])
        # parts of uploads that never completed are not kept (and billed) for ever
        (rule,) = self.s3.get_bucket_lifecycle_configuration(Bucket=BUCKET)["Rules"]
        self.assertEqual((rule["Status"], rule["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"]),
                         ("Enabled", 1))

        for project in ("wordcount", "csvstats"):
            repo = self.ecr.describe_repositories(repositoryNames=["hoist/" + project])["repositories"][0]
            self.assertTrue(repo["imageScanningConfiguration"]["scanOnPush"])
            tags = self.ecr.list_tags_for_resource(resourceArn=repo["repositoryArn"])["tags"]
            self.assertIn(managed, tags)
            self.assertIn({"Key": "hoist:project", "Value": project}, tags)
            policy = json.loads(self.ecr.get_lifecycle_policy(
                repositoryName="hoist/" + project)["lifecyclePolicyText"])
            self.assertEqual([r["selection"]["countType"] for r in policy["rules"]], ["imageCountMoreThan"])

        # the boundary every job role is made with: S3 objects and hoist's
        # repositories; of IAM and EC2 only a spot job's successor, launched
        # as the role's own job (its hoist:job tag) with its own role; of SNS
        # hoist's topic; of SSM a session's messaging
        (policy,) = self.iam.list_policies(Scope="Local", PathPrefix="/hoist/")["Policies"]
        self.assertEqual(policy["Arn"], BOUNDARY)
        doc = self.iam.get_policy_version(PolicyArn=BOUNDARY, VersionId=policy["DefaultVersionId"])
        doc = doc["PolicyVersion"]["Document"]
        doc = json.loads(doc) if isinstance(doc, str) else doc
        features = ("Successor", "Notify", "SessionManager")
        actions = {a for st in doc["Statement"] for a in as_list(st["Action"])
                   if not st["Sid"].startswith(features)}
        self.assertEqual({a.split(":")[0] for a in actions}, {"s3", "ecr"}, actions)
        by_sid = {st["Sid"]: st for st in doc["Statement"]}
        self.assertEqual(by_sid["Notify"]["Action"], "sns:Publish")
        self.assertTrue(by_sid["Notify"]["Resource"].endswith(":hoist-notifications"))
        self.assertFalse([a for a in as_list(by_sid["SessionManager"]["Action"])
                          if not a.startswith(("ssm:UpdateInstanceInformation", "ssmmessages:", "ec2messages:"))])
        own = "${aws:PrincipalTag/hoist:job}"
        successor = {st["Sid"]: st for st in doc["Statement"] if st["Sid"].startswith("Successor")}
        self.assertEqual({a for st in successor.values() for a in as_list(st["Action"])},
                         {"ec2:RunInstances", "ec2:CreateTags", "iam:PassRole"})
        for sid in ("SuccessorInstance", "SuccessorVolume"):
            self.assertEqual(successor[sid]["Condition"]["StringEquals"]["aws:RequestTag/hoist:job"], own)
        self.assertTrue(successor["SuccessorInstance"]["Condition"]["StringEquals"]["ec2:InstanceProfile"]
                        .endswith(":instance-profile/hoist/jobs/" + own))
        self.assertTrue(successor["SuccessorRole"]["Resource"].endswith(":role/hoist/jobs/" + own))
        self.assertEqual(successor["SuccessorTags"]["Condition"], {"StringEquals": {"ec2:CreateAction": "RunInstances"}})


if __name__ == "__main__":
    unittest.main()
