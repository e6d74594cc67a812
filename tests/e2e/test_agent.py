"""End-to-end tests of the instance side: agent/loader.sh (the user data),
the agent bundle it fetches by hash (agent/build_bundle.py of agent/hoist_agent
and agent/bootstrap.sh), driven by tools/hostrunner.py against moto_server
(DESIGN B3/B4), with the process runtime.

Jobs are built by hand with boto3 exactly as the laptop does (blobs, the
agent bundle, job.json, status launching, RunInstances with the filled-in
loader), so this tests the instance contract independently of the C++ side.

    python3 -m unittest tests/e2e/test_agent.py -v     (about 1-2 minutes)
"""
import contextlib
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
import time
import unittest
import unittest.mock
import uuid
import zipfile

import boto3
import botocore.auth
import botocore.awsrequest
import botocore.credentials

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
AGENT_DIR = os.path.join(ROOT, "agent")
EXAMPLES = os.path.join(ROOT, "examples")
REGION = "us-east-1"
ACCOUNT = "123456789012"
BUCKET = "hoist-%s-%s" % (ACCOUNT, REGION)
LOADER_LIMIT = 4096  # what hoist keeps the user data under (EC2 allows 16 KB)

sys.path.insert(0, AGENT_DIR)
from hoist_agent import aws, gpu, util  # noqa: E402 - the agent's own modules
import build_bundle  # noqa: E402

MIRROR_MAIN = r'''
"""Test project: copies every input file to the output (same relative name),
prints each name, then optionally sleeps (--sleep S) or fails (--fail)."""
import argparse, os, shutil, sys, time
from mirror_lib.names import walk

ap = argparse.ArgumentParser()
ap.add_argument("-i", required=True)
ap.add_argument("-o", required=True)
ap.add_argument("--sleep", type=float, default=0)
ap.add_argument("--fail", action="store_true")
a = ap.parse_args()
for rel in walk(a.i):
    dst = os.path.join(a.o, rel)
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    shutil.copyfile(os.path.join(a.i, rel), dst)
    print("copied", rel, flush=True)
# (root ignores permission bits, so check the bits rather than try a write)
modes = [os.stat(os.path.join(d, n)).st_mode for d, ds, ns in os.walk(a.i) for n in ds + ns]
modes.append(os.stat(a.i).st_mode)
print("input is read-only" if all(m & 0o222 == 0 for m in modes) else "INPUT IS WRITABLE",
      flush=True)
if a.fail:
    print("mirror: failing on purpose", file=sys.stderr, flush=True)
    sys.exit(7)
end = time.time() + a.sleep
while time.time() < end:
    print("tick", flush=True)
    time.sleep(0.5)
print("mirror done", flush=True)
'''
MIRROR_NAMES = '''
import os

def walk(root):
    out = []
    for d, dirs, names in os.walk(root):
        for n in names:
            out.append(os.path.relpath(os.path.join(d, n), root))
    return sorted(out)
'''
WEIRD = {
    "sub dir/a b+c=d&e%f.txt": b"plus equals ampersand percent\n",
    "quote's \"double\".txt": b"quotes\n",
    "\u00fcn\u00efc\u00f8d\u00e9/\u65e5\u672c\u8a9e.txt": "non-ASCII \u00e9\u00e8\n".encode(),
    "plain.txt": b"plain words plain\n",
}


def free_port():
    with contextlib.closing(socket.socket()) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


_BUNDLE = {}


def agent_bundle():
    """The agent zipapp, built once by agent/build_bundle.py as the build does."""
    if "bytes" not in _BUNDLE:
        d = tempfile.mkdtemp(prefix="hoist-bundle-")
        try:
            subprocess.check_call([sys.executable, os.path.join(AGENT_DIR, "build_bundle.py"),
                                   os.path.join(d, "agent.pyz")])
            with open(os.path.join(d, "agent.pyz"), "rb") as f:
                _BUNDLE["bytes"] = f.read()
        finally:
            shutil.rmtree(d, ignore_errors=True)
    return _BUNDLE["bytes"]


def fill_loader(values):
    """agent/loader.sh with each @NAME@ replaced by its single-quoted value,
    as the C++ launcher does (a value never holds a quote; an unknown
    placeholder is an error)."""
    with open(os.path.join(AGENT_DIR, "loader.sh")) as f:
        text = f.read()

    def one(m):
        value = values[m.group(1)]
        assert "'" not in value, value
        return "'%s'" % value
    return re.sub(r"@([A-Z0-9_]+)@", one, text)


FALLBACK_GRACE = 120  # what the launcher adds to max_runtime for the loader (kFallbackGrace)


def build_user_data(s3, bucket, job_id, region, agent_sha256=None, max_runtime=600):
    """Mirror of the C++ launcher: the agent bundle put at blobs/sha256/<hex>
    (unless the caller names a hash of its own and puts what it likes there),
    then the loader filled in with the job's coordinates, that hash and the
    job's limit plus the fallback's grace."""
    if agent_sha256 is None:
        data = agent_bundle()
        agent_sha256 = hashlib.sha256(data).hexdigest()
        s3.put_object(Bucket=bucket, Key="blobs/sha256/" + agent_sha256, Body=data)
    return fill_loader({
        "BUCKET": bucket, "JOB_ID": job_id, "REGION": region, "ACCOUNT": ACCOUNT,
        "S3_ENDPOINT": "https://s3.%s.amazonaws.com" % region, "AGENT_SHA256": agent_sha256,
        "MAX_RUNTIME": str(max_runtime + FALLBACK_GRACE),
    }).encode()


def tree_files(root):
    out = {}
    for d, dirs, names in os.walk(root):
        dirs[:] = [x for x in dirs if x != "__pycache__"]
        for n in names:
            p = os.path.join(d, n)
            out[os.path.relpath(p, root).replace(os.sep, "/")] = p
    return out


class AgentE2E(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="hoist-e2e-")
        cls.port = free_port()
        cls.endpoint = "http://127.0.0.1:%d" % cls.port
        env = dict(os.environ, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
                   AWS_DEFAULT_REGION=REGION)
        env.pop("INITIAL_NO_AUTH_ACTION_COUNT", None)
        cls.moto_log = open(os.path.join(cls.tmp, "moto.log"), "wb")
        cls.moto = subprocess.Popen(["moto_server", "-H", "127.0.0.1", "-p", str(cls.port)],
                                    stdout=cls.moto_log,
                                    stderr=subprocess.STDOUT, start_new_session=True, env=env)
        deadline = time.time() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", cls.port), timeout=1).close()
                break
            except OSError:
                if time.time() > deadline:
                    raise
                time.sleep(0.2)
        kw = dict(endpoint_url=cls.endpoint, region_name=REGION,
                  aws_access_key_id="testing", aws_secret_access_key="testing")
        cls.s3 = boto3.client("s3", **kw)
        cls.ec2 = boto3.client("ec2", **kw)
        cls.ecr = boto3.client("ecr", **kw)
        cls.s3.create_bucket(Bucket=BUCKET)
        for p in ("wordcount", "csvstats", "mirror"):
            cls.ecr.create_repository(repositoryName="hoist/" + p)
        cls.ami = cls.ec2.describe_images()["Images"][0]["ImageId"]
        cls.host_root = os.path.join(cls.tmp, "host")
        renv = dict(env, HOIST_POLL_SECONDS="0.5", HOIST_KILL_GRACE="3", HOIST_WATCHDOG_GRACE="30")
        runner = os.path.join(ROOT, "tools", "hostrunner.py")
        cmd = [sys.executable, runner, "--endpoint-url", cls.endpoint, "--root", cls.host_root,
               "--poll", "0.3", "--imds-port", "0", "--log", os.path.join(cls.tmp, "runner.log")]
        with open(runner) as f:
            if "--runtime" in f.read():  # these jobs run in the process runtime, whatever the default
                cmd += ["--runtime", "process"]
        cls.runner = subprocess.Popen(cmd, env=renv, start_new_session=True)
        # the mirror test project, with a nested package
        cls.mirror = os.path.join(cls.tmp, "mirror")
        os.makedirs(os.path.join(cls.mirror, "mirror_lib"))
        for rel, text in (("main.py", MIRROR_MAIN), ("mirror_lib/__init__.py", ""),
                          ("mirror_lib/names.py", MIRROR_NAMES), ("requirements.txt", "PyYAML\n")):
            with open(os.path.join(cls.mirror, rel), "w") as f:
                f.write(text)
        cls.weird = os.path.join(cls.tmp, "weird-input")
        for rel, data in WEIRD.items():
            p = os.path.join(cls.weird, rel)
            os.makedirs(os.path.dirname(p), exist_ok=True)
            with open(p, "wb") as f:
                f.write(data)
        cls.fail_input = os.path.join(cls.tmp, "fail-input")
        shutil.copytree(os.path.join(EXAMPLES, "wordcount", "sample-input"), cls.fail_input)
        open(os.path.join(cls.fail_input, "FAIL"), "w").close()
        cls.reuse_key = hashlib.sha256(uuid.uuid4().bytes).hexdigest()
        # launch everything that can run concurrently now; tests wait on their job
        cls.jobs = {}
        cls.jobs["wordcount"] = cls.launch_job("wordcount", os.path.join(EXAMPLES, "wordcount"),
                                               os.path.join(EXAMPLES, "wordcount", "sample-input"),
                                               args=["--top", "5"], key=cls.reuse_key)
        cls.jobs["csvstats"] = cls.launch_job("csvstats", os.path.join(EXAMPLES, "csvstats"),
                                              os.path.join(EXAMPLES, "csvstats", "sample-input"))
        cls.jobs["fail"] = cls.launch_job("wordcount", os.path.join(EXAMPLES, "wordcount"),
                                          cls.fail_input)
        cls.jobs["weird"] = cls.launch_job("mirror", cls.mirror, cls.weird)
        cls.jobs["cancel"] = cls.launch_job("mirror", cls.mirror, cls.weird, args=["--sleep", "120"])
        cls.jobs["timeout"] = cls.launch_job("mirror", cls.mirror, cls.weird,
                                             args=["--sleep", "120"], max_runtime=25)
        cls.jobs["preempt"] = cls.launch_job("mirror", cls.mirror, cls.weird, args=["--sleep", "120"])
        for rel, data in WEIRD.items():
            cls.s3.put_object(Bucket=BUCKET, Key="datasets/weird/" + rel, Body=data)
        cls.jobs["input_s3"] = cls.launch_job(
            "mirror", cls.mirror, None, input_s3="s3://%s/datasets/weird/" % BUCKET,
            output_s3="s3://%s/results/weird-out/" % BUCKET)

    @classmethod
    def tearDownClass(cls):
        for p in (cls.runner, cls.moto):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, signal.SIGTERM)
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
        cls.moto_log.close()
        if os.environ.get("HOIST_KEEP_TMP"):
            print("kept", cls.tmp)
        else:
            shutil.rmtree(cls.tmp, ignore_errors=True)

    # ---- the laptop side, by hand ----
    @classmethod
    def upload_tree(cls, root):
        manifest = {}
        for rel, p in sorted(tree_files(root).items()):
            with open(p, "rb") as f:
                data = f.read()
            sha = hashlib.sha256(data).hexdigest()
            cls.s3.put_object(Bucket=BUCKET, Key="blobs/sha256/" + sha, Body=data)
            manifest[rel] = {"sha256": sha, "size": len(data), "mode": os.stat(p).st_mode & 0o777}
        return manifest

    @classmethod
    def launch_job(cls, project, code_dir, input_dir, args=(), key=None, max_runtime=600,
                   input_s3=None, output_s3=None):
        job_id = "%s-20261124-031500-%s" % (project, uuid.uuid4().hex[:4])
        spec = {
            "version": 1, "job_id": job_id, "project": project, "bucket": BUCKET,
            "region": REGION, "entry": "main.py", "args": list(args),
            "code": cls.upload_tree(code_dir),
            "inputs": cls.upload_tree(input_dir) if input_dir else {},
            "input_s3": input_s3,
            "output_s3": output_s3 or "s3://%s/jobs/%s/output/" % (BUCKET, job_id),
            "image": {"key": key or hashlib.sha256(uuid.uuid4().bytes).hexdigest(),
                      "repository": "hoist/" + project,
                      "registry": "%s.dkr.ecr.%s.amazonaws.com" % (ACCOUNT, REGION),
                      "python": "3.11", "dockerfile": "FROM python:3.11-slim\n"},
            "resources": {"instance_type": "t3.medium", "gpus": 0, "spot": False, "disk_gib": 30},
            "max_runtime_seconds": max_runtime,
            "created_at": "2026-11-24T03:15:00Z", "hoist_version": "0.1.0",
        }
        cls.s3.put_object(Bucket=BUCKET, Key="jobs/%s/job.json" % job_id,
                          Body=json.dumps(spec).encode())
        ts = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        cls.s3.put_object(Bucket=BUCKET, Key="jobs/%s/status.json" % job_id, Body=json.dumps(
            {"job_id": job_id, "phase": "launching", "updated_at": ts,
             "phases": {"launching": ts}, "exit_code": None, "error": None}).encode())
        r = cls.ec2.run_instances(
            ImageId=cls.ami, MinCount=1, MaxCount=1, InstanceType="t3.medium",
            UserData=build_user_data(cls.s3, BUCKET, job_id, REGION, max_runtime=max_runtime),
            TagSpecifications=[{"ResourceType": "instance", "Tags": [
                {"Key": "hoist:managed", "Value": "true"}, {"Key": "hoist:job", "Value": job_id}]}])
        return {"id": job_id, "instance": r["Instances"][0]["InstanceId"], "spec": spec,
                "input": input_dir, "code": code_dir}

    # ---- helpers ----
    def status(self, job):
        try:
            body = self.s3.get_object(Bucket=BUCKET, Key="jobs/%s/status.json" % job["id"])["Body"]
        except self.s3.exceptions.NoSuchKey:
            return {}
        return json.loads(body.read())

    def wait_phase(self, job, phases, timeout=150):
        deadline = time.time() + timeout
        while time.time() < deadline:
            st = self.status(job)
            if st.get("phase") in phases:
                return st
            time.sleep(0.5)
        self.fail("job %s never reached %s; last status %s\n%s" % (
            job["id"], phases, self.status(job), self.instance_log(job)))

    def wait_terminal(self, job, timeout=150):
        return self.wait_phase(job, ("succeeded", "failed", "cancelled", "preempted", "timed_out"),
                               timeout)

    def instance_log(self, job):
        try:
            with open(os.path.join(self.host_root, job["instance"] + ".log"), errors="replace") as f:
                return f.read()[-4000:]
        except OSError:
            return "(no instance log)"

    def assert_terminated(self, job, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            r = self.ec2.describe_instances(InstanceIds=[job["instance"]])
            state = r["Reservations"][0]["Instances"][0]["State"]["Name"]
            if state == "terminated":
                return
            time.sleep(0.3)
        self.fail("instance %s is %s" % (job["instance"], state))

    def outputs(self, job, prefix=None):
        prefix = prefix or "jobs/%s/output/" % job["id"]
        out = {}
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix):
            for o in page.get("Contents", []):
                out[o["Key"][len(prefix):]] = self.s3.get_object(
                    Bucket=BUCKET, Key=o["Key"])["Body"].read()
        return out

    def job_log(self, job):
        keys = []
        for page in self.s3.get_paginator("list_objects_v2").paginate(
                Bucket=BUCKET, Prefix="jobs/%s/logs/job/" % job["id"]):
            keys += [o["Key"] for o in page.get("Contents", [])]
        self.assertEqual(keys, sorted(keys))
        return b"".join(self.s3.get_object(Bucket=BUCKET, Key=k)["Body"].read() for k in keys)

    def local_run(self, job):
        out = tempfile.mkdtemp(dir=self.tmp)
        rc = subprocess.call([sys.executable, "main.py", "-i", job["input"], "-o", out] +
                             job["spec"]["args"], cwd=job["code"], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, env=dict(os.environ, PYTHONDONTWRITEBYTECODE="1"))
        files = {}
        for rel, p in tree_files(out).items():
            with open(p, "rb") as f:
                files[rel] = f.read()
        return rc, files

    def check_common(self, job, st):
        self.assertEqual(st["job_id"], job["id"])
        self.assertEqual(st["instance_id"], job["instance"])
        for ph in ("launching", "booting", "staging"):
            self.assertIn(ph, st["phases"])
        self.assertEqual(self.s3.head_object(
            Bucket=BUCKET, Key="jobs/%s/logs/bootstrap.log" % job["id"])["ResponseMetadata"]
            ["HTTPStatusCode"], 200)
        self.assert_terminated(job)

    # ---- the tests ----
    def test_01_success_byte_identical(self):
        for name in ("wordcount", "csvstats"):
            job = self.jobs[name]
            st = self.wait_terminal(job)
            self.assertEqual(st["phase"], "succeeded", self.instance_log(job))
            self.assertEqual(st["exit_code"], 0)
            self.assertIsNone(st["error"])
            self.assertEqual(list(st["phases"]), ["launching", "booting", "staging", "building",
                                                  "running", "uploading", "succeeded"])
            rc, expected = self.local_run(job)
            self.assertEqual(rc, 0)
            got = self.outputs(job)
            self.assertEqual(sorted(got), sorted(expected))
            for rel in expected:
                self.assertEqual(got[rel], expected[rel], rel)
            self.assertEqual(st["outputs"]["files"], len(expected))
            self.assertEqual(st["image"]["key"], job["spec"]["image"]["key"])
            self.check_common(job, st)
        log = self.job_log(self.jobs["wordcount"]).decode()
        self.assertIn("wordcount: 3 input files", log)
        self.assertIn("top 5 written", log)

    def test_02_failure_partial_outputs(self):
        job = self.jobs["fail"]
        st = self.wait_terminal(job)
        self.assertEqual(st["phase"], "failed")
        self.assertEqual(st["exit_code"], 3)
        self.assertIn("3", st["error"])
        got = self.outputs(job)
        rc, expected = self.local_run(job)
        self.assertEqual(rc, 3)
        self.assertEqual(sorted(got), ["counts.csv"])
        self.assertEqual(got["counts.csv"], expected["counts.csv"])
        self.assertIn("FAIL marker", self.job_log(job).decode())
        self.check_common(job, st)

    def test_03_image_reused(self):
        first = self.jobs["wordcount"]
        st1 = self.wait_terminal(first)
        self.assertFalse(st1["image"]["reused"])
        images = self.ecr.describe_images(repositoryName="hoist/wordcount",
                                          imageIds=[{"imageTag": self.reuse_key}])
        self.assertEqual(len(images["imageDetails"]), 1)
        job = self.launch_job("wordcount", os.path.join(EXAMPLES, "wordcount"),
                              os.path.join(EXAMPLES, "wordcount", "sample-input"),
                              args=["--top", "3"], key=self.reuse_key)
        st = self.wait_terminal(job)
        self.assertEqual(st["phase"], "succeeded", self.instance_log(job))
        self.assertTrue(st["image"]["reused"])
        self.check_common(job, st)

    def test_04_weird_names_round_trip(self):
        job = self.jobs["weird"]
        st = self.wait_terminal(job)
        self.assertEqual(st["phase"], "succeeded", self.instance_log(job))
        self.assertEqual(self.outputs(job), WEIRD)
        log = self.job_log(job).decode()
        for rel in WEIRD:
            self.assertIn("copied " + rel, log)
        self.assertIn("input is read-only", log)
        self.check_common(job, st)

    def test_05_input_and_output_s3(self):
        job = self.jobs["input_s3"]
        st = self.wait_terminal(job)
        self.assertEqual(st["phase"], "succeeded", self.instance_log(job))
        self.assertEqual(self.outputs(job, prefix="results/weird-out/"), WEIRD)
        self.check_common(job, st)

    def test_06_cancel(self):
        job = self.jobs["cancel"]
        self.wait_phase(job, ("running",))
        time.sleep(1)
        self.s3.put_object(Bucket=BUCKET, Key="jobs/%s/cancel" % job["id"], Body=b"")
        st = self.wait_terminal(job, timeout=60)
        self.assertEqual(st["phase"], "cancelled")
        self.assertEqual(self.outputs(job), WEIRD)  # partial outputs uploaded
        self.assertIn("tick", self.job_log(job).decode())
        self.check_common(job, st)

    def test_07_timeout(self):
        job = self.jobs["timeout"]
        st = self.wait_terminal(job, timeout=120)
        self.assertEqual(st["phase"], "timed_out", self.instance_log(job))
        self.assertIn("max runtime", st["error"])
        if "running" in st["phases"]:
            self.assertEqual(self.outputs(job), WEIRD)
        self.check_common(job, st)

    def test_08_spot_preemption(self):
        job = self.jobs["preempt"]
        self.wait_phase(job, ("running",))
        subprocess.check_call([sys.executable, os.path.join(ROOT, "tools", "hostrunner.py"),
                               "--root", self.host_root, "--spot-notice", job["instance"]])
        st = self.wait_terminal(job, timeout=60)
        self.assertEqual(st["phase"], "preempted")
        self.assertIn("spot", st["error"])
        self.assertEqual(self.outputs(job), WEIRD)
        self.check_common(job, st)

    def test_09_terminate_through_api_kills_script(self):
        job = self.launch_job("mirror", self.mirror, self.weird, args=["--sleep", "120"])
        self.wait_phase(job, ("running",))
        self.ec2.terminate_instances(InstanceIds=[job["instance"]])
        host = os.path.join(self.host_root, job["instance"])
        deadline = time.time() + 20
        while time.time() < deadline:
            out = subprocess.run(["pgrep", "-f", host], capture_output=True, text=True).stdout
            if not out.strip():
                break
            time.sleep(0.3)
        self.assertEqual(out.strip(), "", "processes of a terminated instance still run")

    def launch_bare(self, project, agent_sha256=None):
        """An instance for a job with no job.json (and, with agent_sha256, the
        user data naming that agent instead of the real one)."""
        job_id = "%s-20261124-031500-%s" % (project, uuid.uuid4().hex[:4])
        r = self.ec2.run_instances(
            ImageId=self.ami, MinCount=1, MaxCount=1,
            UserData=build_user_data(self.s3, BUCKET, job_id, REGION, agent_sha256),
            TagSpecifications=[{"ResourceType": "instance", "Tags": [
                {"Key": "hoist:managed", "Value": "true"}, {"Key": "hoist:job", "Value": job_id}]}])
        return {"id": job_id, "instance": r["Instances"][0]["InstanceId"]}

    def test_10_bootstrap_error_reported(self):
        job = self.launch_bare("broken")  # no job.json at all
        st = self.wait_terminal(job, timeout=60)
        self.assertEqual(st["phase"], "failed")
        self.assertIn("job.json", st["error"])
        self.assertIsNone(st["exit_code"])
        self.assert_terminated(job)

    def test_12_a_tampered_agent_is_refused(self):
        # Other bytes where the user data's hash says the agent is: a valid
        # zipapp whose every entry point would leave a marker if it ran.
        marker = "touch \"${HOIST_HOST_ROOT:-/tmp}/TAMPERED-AGENT-RAN\"\n"
        tampered = build_bundle.bundle({
            "__main__.py": ("import os, subprocess\nsubprocess.call(['bash', '-c', %r])\n"
                            % marker).encode(),
            "bootstrap.sh": ("#!/bin/bash\n" + marker).encode()})
        expected = hashlib.sha256(b"the agent hoist would have uploaded" + uuid.uuid4().bytes).hexdigest()
        self.s3.put_object(Bucket=BUCKET, Key="blobs/sha256/" + expected, Body=tampered)
        job = self.launch_bare("tampered", agent_sha256=expected)
        st = self.wait_terminal(job, timeout=60)
        self.assertEqual(st["phase"], "failed", self.instance_log(job))
        self.assertEqual(st["error"], (
            "the agent fetched from s3://%s/blobs/sha256/%s does not match its SHA-256 (%s): "
            "refused to run it" % (BUCKET, expected, hashlib.sha256(tampered).hexdigest())))
        self.assertEqual(st["instance_id"], job["instance"])
        self.assertIsNone(st["exit_code"])
        self.assertIn("failed", st["phases"])
        self.assert_terminated(job)
        self.assertTrue(os.path.exists(os.path.join(self.host_root, job["instance"] + ".shutdown")))
        host = os.path.join(self.host_root, job["instance"])
        written = [os.path.relpath(os.path.join(d, n), host) for d, _, ns in os.walk(host) for n in ns]
        self.assertFalse([w for w in written if "TAMPERED" in w or w.endswith(".pyz")], written)

    def test_13_a_missing_agent_is_a_failure_too(self):
        job = self.launch_bare("noagent", agent_sha256=hashlib.sha256(uuid.uuid4().bytes).hexdigest())
        st = self.wait_terminal(job, timeout=60)
        self.assertEqual(st["phase"], "failed", self.instance_log(job))
        self.assertIn("the agent could not be fetched from s3://%s/blobs/sha256/" % BUCKET, st["error"])
        self.assertIn("404", st["error"])
        self.assert_terminated(job)

    def test_11_agent_s3_multipart_and_listing(self):
        env = {"AWS_ENDPOINT_URL": self.endpoint, "AWS_ACCESS_KEY_ID": "testing",
               "AWS_SECRET_ACCESS_KEY": "testing"}
        with unittest.mock.patch.dict(os.environ, env), \
                unittest.mock.patch.object(aws, "MULTIPART_THRESHOLD", 6 << 20), \
                unittest.mock.patch.object(aws, "PART_SIZE", 5 << 20):
            s3 = aws.S3(REGION)
            big = os.path.join(self.tmp, "big.bin")
            data = os.urandom(12 << 20)
            with open(big, "wb") as f:
                f.write(data)
            key = "multipart/big file+%=&.bin"
            self.assertEqual(s3.upload_file(big, BUCKET, key), len(data))
            head = self.s3.head_object(Bucket=BUCKET, Key=key)
            self.assertTrue(head["ETag"].endswith('-3"'), head["ETag"])  # three parts
            back = os.path.join(self.tmp, "big.back")
            s3.download(BUCKET, key, back, sha256=hashlib.sha256(data).hexdigest(), size=len(data))
            with open(back, "rb") as f:
                self.assertEqual(f.read(), data)
            with self.assertRaises(ValueError):
                s3.download(BUCKET, key, back + "1", sha256="0" * 64)
            self.assertFalse(os.path.exists(back + "1.hoist-part"))
            # a failed part (the object is gone) leaves no sparse file behind
            with self.assertRaises(aws.AwsError):
                s3.download(BUCKET, key + ".gone", back + "3", size=len(data))
            self.assertFalse(os.path.exists(back + "3") or os.path.exists(back + "3.hoist-part"))
            # in ranges (the size is known and above the threshold), parts at once
            with self.assertRaises(ValueError):
                s3.download(BUCKET, key, back + "2", sha256="0" * 64, size=len(data))
            self.assertFalse(os.path.exists(back + "2") or os.path.exists(back + "2.hoist-part"))
            odd = os.urandom((11 << 20) + 7)  # a short last part
            self.s3.put_object(Bucket=BUCKET, Key="multipart/odd", Body=odd)
            s3.download(BUCKET, "multipart/odd", back, sha256=hashlib.sha256(odd).hexdigest(),
                        size=len(odd))
            with open(back, "rb") as f:
                self.assertEqual(f.read(), odd)
            for i in range(5):
                self.s3.put_object(Bucket=BUCKET, Key="listing/k %d" % i, Body=b"x")
            self.s3.put_object(Bucket=BUCKET, Key="listing/\u00e9/+", Body=b"x")
            self.assertEqual(sorted(k for k, _ in s3.list(BUCKET, "listing/")),
                             sorted(["listing/k %d" % i for i in range(5)] + ["listing/\u00e9/+"]))
            self.assertIsNone(s3.get_bytes(BUCKET, "listing/missing"))
            self.assertFalse(s3.exists(BUCKET, "listing/missing"))


class BootstrapStatic(unittest.TestCase):
    def test_shellcheck(self):
        if shutil.which("shellcheck") is None:
            self.skipTest("shellcheck is not installed")
        for script in ("bootstrap.sh", "loader.sh"):
            p = subprocess.run(["shellcheck", os.path.join(AGENT_DIR, script)],
                               capture_output=True, text=True)
            self.assertEqual(p.returncode, 0, script + ":\n" + p.stdout + p.stderr)

    def test_user_data_is_the_loader_filled_in(self):
        sha = hashlib.sha256(agent_bundle()).hexdigest()
        text = fill_loader({"BUCKET": BUCKET, "JOB_ID": "wordcount-20261124-031500-ab12",
                            "REGION": REGION, "ACCOUNT": ACCOUNT,
                            "S3_ENDPOINT": "https://s3.us-east-1.amazonaws.com", "AGENT_SHA256": sha,
                            "MAX_RUNTIME": "720"})
        self.assertTrue(text.startswith("#!/bin/bash\n"))
        self.assertIn("HOIST_BUCKET='%s'" % BUCKET, text)
        self.assertIn("HOIST_AGENT_SHA256='%s'" % sha, text)
        self.assertIsNone(re.search(r"@[A-Z0-9_]+@", text))
        self.assertLessEqual(len(text.encode()), LOADER_LIMIT)
        p = subprocess.run(["bash", "-n"], input=text, capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stderr)

    def test_the_loaders_sigv4_matches_botocore(self):
        # The loader's own signing (it cannot use the agent's before it has
        # checked it): its functions, run with the HTTP exchange captured.
        with open(os.path.join(AGENT_DIR, "loader.sh")) as f:
            py = f.read().split("<<'EOF'", 1)[1].split("\n", 1)[1].split("\nEOF\n", 1)[0]
        functions = py.split("\nsrc = ", 1)[0]
        ak, sk = "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
        for token in (None, "session/token+="):
            env = {"HOIST_BUCKET": BUCKET, "HOIST_JOB_ID": "j-20261124-031500-ab12",
                   "HOIST_AGENT_SHA256": "ab" * 32, "HOIST_REGION": REGION, "HOIST_ACCOUNT": ACCOUNT,
                   "HOIST_S3_ENDPOINT": "https://s3.us-east-1.amazonaws.com",
                   "AWS_ACCESS_KEY_ID": ak, "AWS_SECRET_ACCESS_KEY": sk}
            if token:
                env["AWS_SESSION_TOKEN"] = token
            with unittest.mock.patch.dict(os.environ, env, clear=True):
                ns = {}
                exec(functions, ns)  # noqa: S102 - our own file
                for method, key, body in (("GET", "blobs/sha256/" + "ab" * 32, b""),
                                          ("PUT", "jobs/j-20261124-031500-ab12/status.json",
                                           b'{"phase": "failed"}')):
                    url = "https://s3.us-east-1.amazonaws.com/%s/%s" % (BUCKET, key)
                    req = botocore.awsrequest.AWSRequest(
                        method=method, url=url, data=body,
                        headers={"x-amz-expected-bucket-owner": ACCOUNT})
                    botocore.auth.S3SigV4Auth(botocore.credentials.Credentials(ak, sk, token), "s3",
                                              REGION).add_auth(req)
                    when = time.strptime(req.headers["X-Amz-Date"], "%Y%m%dT%H%M%SZ")
                    ns["utc"] = lambda fmt, when=when: time.strftime(fmt, when)
                    sent = {}

                    def http(m, u, h, b=None, sent=sent):
                        sent.update(method=m, url=u, headers=h, body=b)
                        return b"ok"
                    ns["http"] = http
                    self.assertEqual(ns["s3"](method, key, body), b"ok")
                    self.assertEqual((sent["method"], sent["url"]), (method, url))
                    self.assertEqual(sent["headers"]["authorization"], req.headers["Authorization"],
                                     (method, token))
                    self.assertEqual(sent["headers"]["x-amz-expected-bucket-owner"], ACCOUNT)
                    self.assertEqual(sent["body"], body or None)

    def test_the_bundle_is_deterministic_and_runs(self):
        first = agent_bundle()
        d = tempfile.mkdtemp(prefix="hoist-bundle-")
        try:
            out = os.path.join(d, "again.pyz")
            subprocess.check_call([sys.executable, os.path.join(AGENT_DIR, "build_bundle.py"), out])
            with open(out, "rb") as f:
                self.assertEqual(f.read(), first)  # same sources, same bytes, same SHA-256
            with zipfile.ZipFile(out) as z:
                names = z.namelist()
                self.assertEqual(names, sorted(names))
                self.assertIn("__main__.py", names)
                self.assertIn("bootstrap.sh", names)
                self.assertIn("hoist_agent/cli.py", names)
                self.assertFalse([n for n in names if "__pycache__" in n or n.endswith(".pyc")])
                for info in z.infolist():
                    self.assertEqual(info.date_time, (1980, 1, 1, 0, 0, 0))
                    self.assertEqual(info.compress_type, zipfile.ZIP_DEFLATED)
                    self.assertEqual(info.external_attr >> 16, 0o100644)
            # python3 agent.pyz COMMAND runs hoist_agent.cli (no command: its usage, status 2)
            p = subprocess.run([sys.executable, out], capture_output=True, text=True,
                               env=dict(os.environ, HOIST_BUCKET="b", HOIST_JOB_ID="j",
                                        HOIST_WORK=os.path.join(d, "work")))
            self.assertEqual(p.returncode, 2, p.stderr)
            self.assertIn("finalize", p.stderr)
        finally:
            shutil.rmtree(d, ignore_errors=True)

    def test_sigv4_matches_botocore_for_awkward_keys(self):
        creds = ("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "session/token+=")
        for key in ("plain.txt", "sub dir/a b+c=d&e%f.txt", "quote's \"double\".txt",
                    "\u00fcn\u00efc\u00f8d\u00e9/\u65e5\u672c\u8a9e.txt", "a~b(c)!*:@,;$.txt"):
            body = b"hello"
            url = "http://s3.us-east-1.amazonaws.com" + aws.s3_path(BUCKET, key)
            req = botocore.awsrequest.AWSRequest(method="PUT", url=url, data=body)
            botocore.auth.S3SigV4Auth(botocore.credentials.Credentials(*creds), "s3",
                                      REGION).add_auth(req)
            ours = aws.sign_headers("PUT", "s3.us-east-1.amazonaws.com",
                                      aws.s3_path(BUCKET, key), {}, {},
                                      req.headers["X-Amz-Content-SHA256"], "s3", REGION, creds,
                                      amz_date=req.headers["X-Amz-Date"])
            self.assertEqual(ours["authorization"], req.headers["Authorization"], key)

    def test_part_size_keeps_any_output_within_10000_parts(self):
        mib, gib = 1024 * 1024, 1024 ** 3
        self.assertEqual(aws.part_size_for(100 * mib), 16 * mib)
        self.assertEqual(aws.part_size_for(16 * mib * 10000), 16 * mib)
        for size in (16 * mib * 10000 + 1, 200 * gib, 5 * 1024 * gib):  # up to S3's 5 TiB
            part = aws.part_size_for(size)
            self.assertEqual(part % mib, 0)
            self.assertLessEqual(-(-size // part), 10000, size)
            self.assertLessEqual(part, 5 * gib)  # S3's largest part

    def test_iam_propagation_is_waited_out_only_within_the_grace(self):
        slept = []
        calls = []

        def refused_then_ok(errors):
            def fn():
                calls.append(1)
                if errors:
                    raise errors.pop(0)
                return "ok"
            return fn

        with unittest.mock.patch.object(aws.time, "sleep", slept.append), \
                unittest.mock.patch.object(aws, "log", lambda msg: None):
            # Just after boot: 20 refusals (more than the 8 attempts of the
            # back-off) and no credentials in IMDS yet are all waited out.
            errors = [aws.AwsError(403, "AccessDenied", "not yet")] * 12 + \
                     [aws.AwsError(403, "403", "")] * 4 + \
                     [aws.NoCredentials("IMDS has none yet")] * 4
            self.assertEqual(aws.retrying(refused_then_ok(errors), "GET x"), "ok")
            self.assertEqual(len(calls), 21)
            self.assertTrue(all(1.0 <= s <= 3.0 for s in slept), slept)

            # After the grace, a refusal is real: no retry at all.
            aws.STARTED = time.monotonic() - aws.IAM_GRACE - 1
            calls.clear()
            slept.clear()
            with self.assertRaises(aws.AwsError):
                aws.retrying(refused_then_ok([aws.AwsError(403, "AccessDenied", "no")]), "GET x")
            self.assertEqual((len(calls), slept), (1, []))
            with self.assertRaises(aws.NoCredentials):
                aws.retrying(refused_then_ok([aws.NoCredentials("none")]), "GET x")

            # Other 4xx are never propagation, even at boot.
            aws.STARTED = time.monotonic()
            calls.clear()
            with self.assertRaises(aws.AwsError):
                aws.retrying(refused_then_ok([aws.AwsError(404, "NoSuchKey", "gone")]), "GET x")
            with self.assertRaises(aws.AwsError):
                aws.retrying(refused_then_ok([aws.AwsError(403, "SignatureDoesNotMatch", "bad")]), "GET x")
            self.assertEqual(len(calls), 2)

    def test_gpu_flags_wait_for_the_driver_and_refuse_a_gpu_job_without_one(self):
        answers = []  # what nvidia_ready says, call by call
        slept = []
        clock = [1000.0]

        def sleep(s):
            slept.append(s)
            clock[0] += s

        with unittest.mock.patch.object(gpu, "nvidia_ready", lambda: answers.pop(0)), \
                unittest.mock.patch.object(gpu.time, "sleep", sleep), \
                unittest.mock.patch.object(gpu.time, "monotonic", lambda: clock[0]):
            # the driver comes up 15 s after the job starts
            answers[:] = [False, False, False, True]
            self.assertEqual(gpu.gpu_flags(1, wait=60), ["--gpus", "all"])
            self.assertEqual(sum(slept), 15)
            # it never does: the GPU job fails with a clear reason
            answers[:] = [False] * 100
            with self.assertRaisesRegex(RuntimeError, "asked for 2 GPU.*--image"):
                gpu.gpu_flags(2, wait=60)
            # a CPU job does not wait, and runs without GPU flags...
            slept.clear()
            answers[:] = [False]
            self.assertEqual(gpu.gpu_flags(0, wait=60), [])
            self.assertEqual(slept, [])
            # ...unless the instance has GPUs anyway (a GPU type chosen by name)
            answers[:] = [True]
            self.assertEqual(gpu.gpu_flags(0, wait=60), ["--gpus", "all"])

    def test_a_full_disk_is_named_in_the_failure(self):
        gib, mib = 1 << 30, 1 << 20

        def usage(total, free):
            return lambda path: util.shutil._ntuple_diskusage(total, total - free, free)

        with unittest.mock.patch.object(util.shutil, "disk_usage", usage(30 * gib, 100 * mib)):
            self.assertEqual(util.disk_full_hint("/w"),
                             "; the instance's 30 GiB disk was full: run again with a larger --disk")
        with unittest.mock.patch.object(util.shutil, "disk_usage", usage(64 * mib, 0)):
            self.assertEqual(util.disk_full_hint("/w"),  # a test's tmpfs
                             "; the instance's 64 MiB disk was full: run again with a larger --disk")
        with unittest.mock.patch.object(util.shutil, "disk_usage", usage(30 * gib, 20 * gib)):
            self.assertEqual(util.disk_full_hint("/w"), "")
        self.assertEqual(util.disk_full_hint("/nonexistent/path"), "")

    def test_credentials_missing_from_imds_are_no_credentials(self):
        answers = {"/latest/meta-data/iam/security-credentials/": "hoist-instance-role\n",
                   "/latest/meta-data/iam/security-credentials/hoist-instance-role": "{}"}
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        with unittest.mock.patch.dict(os.environ, env, clear=True), \
                unittest.mock.patch.object(aws.IMDS, "get", answers.get):
            with self.assertRaises(aws.NoCredentials):
                aws.Credentials().get()
            answers["/latest/meta-data/iam/security-credentials/"] = None
            with self.assertRaises(aws.NoCredentials):
                aws.Credentials().get()

    def test_sigv4_query_matches_botocore(self):
        creds = ("AKIDEXAMPLE", "secret", None)
        q = {"list-type": "2", "prefix": "datasets/we ird+/\u00e9", "continuation-token": "a/b=="}
        qs = "&".join("%s=%s" % (aws.uri_encode(k), aws.uri_encode(v)) for k, v in sorted(q.items()))
        req = botocore.awsrequest.AWSRequest(
            method="GET", url="http://s3.us-east-1.amazonaws.com/%s/?%s" % (BUCKET, qs))
        botocore.auth.S3SigV4Auth(botocore.credentials.Credentials(*creds[:2]), "s3",
                                  REGION).add_auth(req)
        ours = aws.sign_headers("GET", "s3.us-east-1.amazonaws.com", aws.s3_path(BUCKET), q,
                                  {}, req.headers["X-Amz-Content-SHA256"], "s3", REGION, creds,
                                  amz_date=req.headers["X-Amz-Date"])
        self.assertEqual(ours["authorization"], req.headers["Authorization"])


if __name__ == "__main__":
    unittest.main()
