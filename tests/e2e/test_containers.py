"""End-to-end tests of steps 3-5: the job's image built on the instance or
pulled from the registry, pushed, and the script run in a real container.

The REAL hoist binary against moto + tools/hostrunner.py, with a real Docker
engine (scripts/containers.sh) and a real OCI registry in front of which
tools/ecr_registry.py plays ECR (login with GetAuthorizationToken's token,
immutable tags). Outcomes are checked with boto3 and the registry's own HTTP
API, never with hoist.

    python3 -m unittest tests/e2e/test_containers.py -v     (a few minutes)
"""
import json
import os
import re
import sys
import tempfile
import unittest
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import BUCKET, Emulator, release, show, tree, write_tree  # noqa: E402

# Reports what it sees of its surroundings, copies its inputs, leaves links
# to secrets of the host in its outputs, and exits as told.
PROBE_MAIN = r'''
import argparse, json, os, sys
ap = argparse.ArgumentParser()
ap.add_argument("-i", required=True)
ap.add_argument("-o", required=True)
ap.add_argument("--exit", type=int, default=0)
ap.add_argument("--links", action="store_true")
a = ap.parse_args()
seen = {"dockerenv": os.path.exists("/.dockerenv"), "uid": os.getuid(),
        "aws_env": sorted(k for k in os.environ if k.startswith("AWS_")),
        "input_dir": a.i, "output_dir": a.o}
try:
    with open(os.path.join(a.i, "written-by-the-script"), "w") as f:
        f.write("x")
    seen["input_write"] = "allowed"
except OSError as e:
    seen["input_write"] = "refused: %s" % e.strerror
try:
    with open(os.path.join(a.i, "a.txt"), "a") as f:
        f.write("x")
    seen["input_append"] = "allowed"
except OSError as e:
    seen["input_append"] = "refused: %s" % e.strerror
for n in sorted(os.listdir(a.i)):
    p = os.path.join(a.i, n)
    if os.path.isfile(p):
        with open(p, "rb") as src, open(os.path.join(a.o, n), "wb") as dst:
            dst.write(src.read())
if a.links:
    for name, target in (("docker-config", "/root/.docker/config.json"),
                         ("environ", "/proc/1/environ"), ("passwd", "/etc/passwd"),
                         ("etc-dir", "/etc"), ("dangling", "/nonexistent/secret")):
        os.symlink(target, os.path.join(a.o, name))
    os.mkfifo(os.path.join(a.o, "fifo"))
print("PROBE " + json.dumps(seen, sort_keys=True), flush=True)
sys.exit(a.exit)
'''
INPUTS = {"a.txt": b"alpha\n", "b.csv": b"x,y\n1,2\n"}


def job_id_of(stderr):
    m = re.search(r"hoist: job (\S+) in ", stderr)
    return m.group(1) if m else None


def probe_of(stdout):
    for line in stdout.splitlines():
        if line.startswith("PROBE "):
            return json.loads(line[len("PROBE "):])
    return None


@unittest.skipIf(os.environ.get("HOIST_TEST_RUNTIME") == "process",
                 "HOIST_TEST_RUNTIME=process: no Docker engine on this machine")
class ContainerJobs(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="hoist-containers-e2e-")
        cls.emu = Emulator(cls.tmp, runtime="docker").start()
        cls.inputs = write_tree(os.path.join(cls.tmp, "in"), INPUTS)

    @classmethod
    def tearDownClass(cls):
        release(cls.emu, cls.tmp)

    # ---- helpers ----
    def project(self, name, requirements):
        """A probe project named `name` (its ECR repository hoist/<name>)."""
        return write_tree(os.path.join(tempfile.mkdtemp(dir=self.tmp), name),
                          {"main.py": PROBE_MAIN, "requirements.txt": requirements})

    def run_job(self, project, *script_args, expect=0, extra=()):
        out = tempfile.mkdtemp(prefix="out-", dir=self.tmp)
        p = self.emu.hoist("run", project, "-i", self.inputs, "-o", out, "--yes", *extra,
                           "--", *script_args, timeout=600)
        job = job_id_of(p.stderr)
        self.assertEqual(p.returncode, expect, show(p) + (self.emu.diagnostics(job) if job else ""))
        self.assertIsNotNone(job, show(p))
        return p, job, out

    def docker(self, *args):
        return self.emu.docker(*args)

    def registry_json(self, path):
        status, _, body = self.emu.registry_get(path)
        self.assertEqual(status, 200, "GET %s: %s %s" % (path, status, body[:300]))
        return json.loads(body)

    def tag_digest(self, repository, tag):
        """The digest the registry itself gives for repository:tag (HEAD)."""
        status, headers, _ = self.emu.registry_get(
            "/v2/%s/manifests/%s" % (repository, tag), method="HEAD")
        self.assertEqual(status, 200, "no manifest %s:%s" % (repository, tag))
        return headers.get("docker-content-digest")

    def tags(self, repository):
        return sorted(self.registry_json("/v2/%s/tags/list" % repository).get("tags") or [])

    def job_json(self, job):
        return self.emu.get_json("jobs/%s/job.json" % job)

    def forget_local_images(self, repository):
        """Empties the engine's cache of the repository's images, as a new
        instance's is."""
        name = "%s/%s" % (self.emu.registry, repository)
        ids = self.docker("images", "--quiet", "--no-trunc", name).stdout.split()
        if ids:
            self.docker("image", "rm", "--force", *sorted(set(ids)))
        self.assertEqual(self.docker("images", "--quiet", name).stdout.strip(), "")

    # ---- tests ----
    def test_01_script_runs_in_a_container_that_cannot_write_its_inputs(self):
        proj = self.project("probe", "PyYAML>=5.0\n# %s\n" % uuid.uuid4().hex)
        p, job, out = self.run_job(proj)
        seen = probe_of(p.stdout)
        self.assertIsNotNone(seen, show(p))
        self.assertTrue(seen["dockerenv"], seen)
        self.assertEqual((seen["input_dir"], seen["output_dir"]), ("/input", "/output"))
        self.assertTrue(seen["input_write"].startswith("refused"), seen)
        self.assertTrue(seen["input_append"].startswith("refused"), seen)
        self.assertNotEqual(seen["uid"], 0, "the script ran as root")
        self.assertEqual(seen["aws_env"], [], "the container was given AWS settings")
        self.assertIn("(image built and pushed to ECR)", p.stderr)
        # The outputs, in S3 (boto3) and brought home.
        self.assertEqual(self.emu.objects(BUCKET, "jobs/%s/output/" % job), INPUTS)
        self.assertEqual(tree(out), INPUTS)
        # It ran by the digest the registry holds for the key.
        st = self.emu.status(job)
        key = self.job_json(job)["image"]["key"]
        self.assertEqual(st["phase"], "succeeded")
        self.assertEqual(st["image"]["key"], key)
        self.assertEqual(st["image"]["digest"], self.tag_digest("hoist/probe", key))
        self.assertTrue(st["image"]["pushed"])
        self.assertFalse(st["image"]["reused"])
        self.assertIn(key, self.tags("hoist/probe"))
        # ECR's API sees the image too.
        images = self.emu.ecr.describe_images(repositoryName="hoist/probe",
                                              imageIds=[{"imageTag": key}])["imageDetails"]
        self.assertEqual([i["imageDigest"] for i in images], [st["image"]["digest"]])

    def test_02_exit_code_comes_back_through_the_container(self):
        proj = self.project("exits", "PyYAML>=5.0\n")
        p, job, _ = self.run_job(proj, "--exit", "7", expect=7)
        st = self.emu.status(job)
        self.assertEqual((st["phase"], st["exit_code"]), ("failed", 7))
        self.assertTrue(probe_of(p.stdout)["dockerenv"])

    def test_03_an_emptied_image_cache_pulls_and_a_changed_requirement_builds(self):
        reqs = "PyYAML>=5.0\n# %s\n" % uuid.uuid4().hex
        proj = self.project("reuse", reqs)
        p1, job1, _ = self.run_job(proj)
        self.assertIn("(image built and pushed to ECR)", p1.stderr)
        key1 = self.job_json(job1)["image"]["key"]
        digest1 = self.emu.status(job1)["image"]["digest"]

        # A new instance has no image cache: it pulls, never rebuilds.
        self.forget_local_images("hoist/reuse")
        p2, job2, _ = self.run_job(proj)
        st2 = self.emu.status(job2)
        self.assertIn("(image reused from ECR)", p2.stderr, show(p2))
        self.assertNotIn("built and pushed", p2.stderr)
        self.assertEqual(self.job_json(job2)["image"]["key"], key1)
        self.assertTrue(st2["image"]["reused"])
        self.assertEqual(st2["image"]["digest"], digest1)
        boot2 = self.emu.s3.get_object(Bucket=BUCKET, Key="jobs/%s/logs/bootstrap.log" % job2)[
            "Body"].read().decode()
        self.assertIn("docker pull", boot2)
        self.assertNotIn("docker build", boot2)
        self.assertEqual(self.tags("hoist/reuse"), [key1])

        # A changed requirements.txt is a new key: built and pushed again.
        with open(os.path.join(proj, "requirements.txt"), "a") as f:
            f.write("Jinja2>=3.0\n")
        p3, job3, _ = self.run_job(proj)
        key3 = self.job_json(job3)["image"]["key"]
        self.assertNotEqual(key3, key1)
        self.assertIn("(image built and pushed to ECR)", p3.stderr)
        self.assertEqual(self.tags("hoist/reuse"), sorted([key1, key3]))
        self.assertNotEqual(self.emu.status(job3)["image"]["digest"], digest1)

    def test_04_an_arm64_plan_does_not_reuse_the_amd64_key(self):
        proj = self.project("archs", "PyYAML>=5.0\n")

        def planned_key(instance_type):
            p = self.emu.hoist("run", proj, "-i", self.inputs, "-o", self.tmp, "--dry-run",
                               "--instance-type", instance_type)
            self.assertEqual(p.returncode, 0, show(p))
            m = re.search(r"container image key ([0-9a-f]{12})", p.stderr)
            self.assertIsNotNone(m, show(p))
            return m.group(1)
        self.assertEqual(planned_key("c7i.large"), planned_key("m7i.large"))
        self.assertNotEqual(planned_key("c7i.large"), planned_key("c7g.large"))

    def test_05_links_in_the_outputs_do_not_leak_what_they_point_at(self):
        proj = self.project("links", "PyYAML>=5.0\n")
        p, job, out = self.run_job(proj, "--links")
        keys = sorted(self.emu.objects(BUCKET, "jobs/%s/output/" % job))
        self.assertEqual(keys, sorted(INPUTS), "uploaded: %s" % keys)
        self.assertEqual(sorted(tree(out)), sorted(INPUTS))
        log = self.emu.s3.get_object(Bucket=BUCKET, Key="jobs/%s/logs/bootstrap.log" % job)[
            "Body"].read().decode()
        for name in ("docker-config", "environ", "passwd", "etc-dir", "dangling", "fifo"):
            self.assertIn("%s is not a regular file" % name, log)

    def test_06_two_jobs_building_the_same_new_key_at_once_run_the_same_image(self):
        reqs = "PyYAML>=5.0\n# race %s\n" % uuid.uuid4().hex
        proj = self.project("race", reqs)
        outs = [tempfile.mkdtemp(prefix="race-", dir=self.tmp) for _ in range(2)]
        bgs = [self.emu.hoist_bg("run", proj, "-i", self.inputs, "-o", o, "--yes") for o in outs]
        results = [b.result(timeout=600) for b in bgs]
        jobs = [job_id_of(r.stderr) for r in results]
        for r, j in zip(results, jobs):
            self.assertEqual(r.returncode, 0, show(r) + (self.emu.diagnostics(j) if j else ""))
        for o in outs:
            self.assertEqual(tree(o), INPUTS)
        keys = {self.job_json(j)["image"]["key"] for j in jobs}
        self.assertEqual(len(keys), 1)
        key = keys.pop()
        digests = {self.emu.status(j)["image"]["digest"] for j in jobs}
        self.assertEqual(digests, {self.tag_digest("hoist/race", key)})
        self.assertEqual(self.tags("hoist/race"), [key])


if __name__ == "__main__":
    unittest.main()
