"""Unit tests of the agent's own modules (agent/hoist_agent), without moto,
Docker or a registry: what the outputs upload leaves out, the container's
command line, how the image is chosen (pull, build and push, or the winner
of a race), with a fake engine and a fake registry, and how the IMDS client
lives through an endpoint that fails for a while, with a fake IMDS.

    python3 -m unittest tests/e2e/test_agent_modules.py -v     (a second)
"""
import http.server
import json
import os
import sys
import tempfile
import threading
import unittest
import unittest.mock

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "agent"))
from hoist_agent import aws, checkpoint, container, image, outputs, successor  # noqa: E402


class TransferRetries(unittest.TestCase):
    """An idempotent transfer outlasts a streak of throttles; other calls
    still give up after their attempts."""

    def flaky(self, failures):
        calls = []

        def fn():
            calls.append(1)
            if len(calls) <= failures:
                raise aws.AwsError(503, "SlowDown", "Please reduce your request rate.")
            return "done"
        return fn, calls

    def test_a_transfer_outlasts_twelve_throttles_in_a_row(self):
        fn, calls = self.flaky(12)
        with unittest.mock.patch.object(aws.time, "sleep"), unittest.mock.patch.object(aws, "log"):
            self.assertEqual(aws.retrying(fn, "UploadPart 3", budget=aws.TRANSFER_BUDGET), "done")
        self.assertEqual(len(calls), 13)

    def test_another_call_gives_up_after_its_attempts(self):
        fn, calls = self.flaky(12)
        with unittest.mock.patch.object(aws.time, "sleep"), unittest.mock.patch.object(aws, "log"), \
                self.assertRaises(aws.AwsError):
            aws.retrying(fn, "ECR DescribeImages")
        self.assertEqual(len(calls), 8)

    def test_a_transfer_gives_up_once_its_budget_is_spent(self):
        fn, calls = self.flaky(10 ** 6)
        clock = [0.0]

        def sleep(s):
            clock[0] += max(s, 1.0)
        with unittest.mock.patch.object(aws.time, "sleep", sleep), \
                unittest.mock.patch.object(aws.time, "monotonic", lambda: clock[0]), \
                unittest.mock.patch.object(aws, "log"), self.assertRaises(aws.AwsError):
            aws.retrying(fn, "PUT s3://b/k", budget=60)
        self.assertGreater(len(calls), 8)
        self.assertLess(clock[0], 60 + 21)


class RegularFiles(unittest.TestCase):
    def test_links_fifos_and_linked_folders_are_left_out(self):
        with tempfile.TemporaryDirectory() as root, tempfile.TemporaryDirectory() as secret_dir:
            secret = os.path.join(secret_dir, "config.json")
            with open(secret, "w") as f:
                f.write('{"auths": {"x": {"auth": "c2VjcmV0"}}}')
            os.makedirs(os.path.join(root, "sub"))
            for rel in ("a.txt", "sub/b.txt"):
                with open(os.path.join(root, rel), "w") as f:
                    f.write(rel)
            os.symlink(secret, os.path.join(root, "leak"))
            os.symlink(secret_dir, os.path.join(root, "linked-dir"))
            os.symlink("/nonexistent", os.path.join(root, "sub", "dangling"))
            os.mkfifo(os.path.join(root, "fifo"))
            files, skipped = outputs.regular_files(root)
            self.assertEqual(sorted(os.path.relpath(p, root) for p in files), ["a.txt", "sub/b.txt"])
            self.assertEqual(sorted(skipped), ["fifo", "leak", "linked-dir", "sub/dangling"])

    def test_the_upload_itself_never_follows_a_link(self):
        # A link swapped in after the listing is refused when opened.
        from hoist_agent.aws import S3
        with tempfile.TemporaryDirectory() as root:
            target = os.path.join(root, "real")
            with open(target, "w") as f:
                f.write("secret")
            link = os.path.join(root, "link")
            os.symlink(target, link)
            s3 = S3.__new__(S3)
            with self.assertRaises(OSError):
                s3.upload_file(link, "bucket", "key")


class DockerCommand(unittest.TestCase):
    def cmd(self, **env):
        with unittest.mock.patch.dict(os.environ, env, clear=False):
            if "HOIST_DOCKER_NETWORK" not in env:
                os.environ.pop("HOIST_DOCKER_NETWORK", None)
            return container.docker_command("hoist-j", "reg/hoist/p@sha256:abc", "/w/code", "/w/input",
                                            "/w/output", "main.py", ["--top", 5],
                                            labels={"hoist.job": "j", "hoist.instance": "i-1"})

    def test_read_only_inputs_a_user_and_no_privileges(self):
        c = self.cmd()
        self.assertIn("/w/code:/opt/hoist/code:ro", c)
        self.assertIn("/w/input:/input:ro", c)
        self.assertIn("/w/output:/output:rw", c)
        self.assertEqual(c[c.index("--user") + 1], "1000:1000")
        self.assertEqual(c[c.index("--cap-drop") + 1], "ALL")
        self.assertIn("no-new-privileges", c)
        self.assertIn("hoist.instance=i-1", c)
        # By the digest, and the script's own arguments after its -i/-o.
        self.assertEqual(c[c.index("reg/hoist/p@sha256:abc") + 1:],
                         ["python", "main.py", "-i", "/input", "-o", "/output", "--top", "5"])
        self.assertFalse(any(a.startswith("AWS_") for a in c), c)

    def test_docker_default_network_unless_the_host_says(self):
        self.assertNotIn("--network", self.cmd())
        c = self.cmd(HOIST_DOCKER_NETWORK="none")
        self.assertEqual(c[c.index("--network") + 1], "none")


class FakeDocker:
    """Records calls; `local` is the set of references the engine holds."""

    def __init__(self, registry, refuse_push=False, pull_ok=True):
        self.registry, self.refuse_push, self.pull_ok = registry, refuse_push, pull_ok
        self.calls = []
        self.local = set()

    def ready(self):
        self.calls.append("ready")

    def login(self, host, user, password):
        self.calls.append(("login", host, user, password))

    def run(self, args, check=True):
        self.calls.append(tuple(args[:1]))
        if args[0] == "build":
            self.local.add(args[args.index("-t") + 1])
        if args[0] == "pull":
            if not self.pull_ok:
                return 1
            self.local.add(args[1])
        return 0

    def push(self, ref):
        self.calls.append(("push",))
        if self.refuse_push:
            return "tag invalid: The image tag already exists"
        name = ref.rsplit(":", 1)[0]
        self.registry.digest = "sha256:ours"
        self.local.add(name + "@sha256:ours")
        return None

    def has(self, ref):
        return ref in self.local

    def architecture(self, ref):
        return "amd64"

    def quiet(self, args):
        ref = args[-1]
        return (0, "sha256:local", "") if ref in self.local else (1, "", "no such image")


class FakeRegistry:
    def __init__(self, digest=None):
        self.digest = digest

    def manifest_digest(self, repository, reference):
        return self.digest


class FakeEcr:
    def call(self, op, params):
        import base64
        return {"authorizationData": [{"authorizationToken": base64.b64encode(b"AWS:pw").decode()}]}


SPEC = {"key": "k" * 64, "repository": "hoist/p", "registry": "1.dkr.ecr.us-east-1.amazonaws.com",
        "dockerfile": "FROM x\n", "arch": "x86_64"}


class Provide(unittest.TestCase):
    def provide(self, registry, docker, spec=SPEC):
        with tempfile.TemporaryDirectory() as work, \
                unittest.mock.patch.object(image, "Registry", lambda *a: registry), \
                unittest.mock.patch.object(image, "machine_arch", lambda: "amd64"), \
                unittest.mock.patch.dict(os.environ, {"HOIST_REGISTRY": "127.0.0.1:5000"}):
            return image.provide(docker, FakeEcr(), spec, os.path.join(work, "requirements.txt"), work)

    def test_an_image_in_the_registry_is_pulled_by_digest_never_built(self):
        reg = FakeRegistry("sha256:there")
        d = FakeDocker(reg)
        e = self.provide(reg, d)
        self.assertEqual((e["reused"], e["pushed"], e["digest"]), (True, False, "sha256:there"))
        self.assertEqual(e["ref"], "127.0.0.1:5000/hoist/p@sha256:there")
        self.assertIn(("login", "127.0.0.1:5000", "AWS", "pw"), d.calls)
        self.assertNotIn(("build",), d.calls)

    def test_a_missing_image_is_built_pushed_and_run_by_the_registrys_digest(self):
        reg = FakeRegistry(None)
        d = FakeDocker(reg)
        e = self.provide(reg, d)
        self.assertEqual((e["reused"], e["pushed"], e["digest"]), (False, True, "sha256:ours"))
        self.assertEqual([c for c in d.calls if c in (("build",), ("push",))], [("build",), ("push",)])

    def test_a_push_refused_for_an_existing_tag_runs_the_winners_image(self):
        reg = FakeRegistry(None)
        d = FakeDocker(reg, refuse_push=True)
        orig = d.push

        def push(ref):  # the other job's push lands first
            reg.digest = "sha256:winner"
            return orig(ref)
        d.push = push
        e = self.provide(reg, d)
        self.assertEqual((e["reused"], e["digest"], e.get("raced")), (True, "sha256:winner", True))
        self.assertIn("127.0.0.1:5000/hoist/p@sha256:winner", d.local)

    def test_a_winner_that_cannot_be_pulled_leaves_this_instances_own_build(self):
        reg = FakeRegistry(None)
        d = FakeDocker(reg, refuse_push=True, pull_ok=False)
        orig = d.push

        def push(ref):
            reg.digest = "sha256:winner"
            return orig(ref)
        d.push = push
        with unittest.mock.patch("time.sleep"):
            e = self.provide(reg, d)
        self.assertEqual((e["reused"], e["pushed"], e["raced"]), (False, False, True))
        self.assertEqual(e["ref"], "127.0.0.1:5000/hoist/p:" + "k" * 64)
        self.assertEqual(d.calls.count(("pull",)), 5)  # tried with back-off first

    def test_a_failed_push_is_tried_again(self):
        reg = FakeRegistry(None)
        d = FakeDocker(reg)
        orig, fails = d.push, [1]

        def push(ref):
            if fails:
                fails.pop()
                raise RuntimeError("received unexpected HTTP status: 500 Internal Server Error")
            return orig(ref)
        d.push = push
        with unittest.mock.patch("time.sleep"):
            e = self.provide(reg, d)
        self.assertEqual((e["pushed"], e["digest"]), (True, "sha256:ours"))

    def test_an_image_for_another_architecture_is_refused(self):
        reg = FakeRegistry("sha256:there")
        with self.assertRaisesRegex(RuntimeError, "arm64 but this instance is amd64"):
            self.provide(reg, FakeDocker(reg), dict(SPEC, arch="arm64"))


class PushRefusal(unittest.TestCase):
    def test_ecrs_immutable_tag_answer_is_a_refusal_not_an_error(self):
        class P:
            def __init__(self, *a, **k):
                self.stdout = [b"The push refers to repository [r/hoist/p]\n",
                               b"tag invalid: The image tag 'k' already exists in the 'hoist/p' "
                               b"repository and cannot be overwritten because the repository is immutable.\n"]

            def wait(self):
                return 1
        with tempfile.TemporaryDirectory() as state, \
                unittest.mock.patch.object(image.subprocess, "Popen", P):
            refusal = image.Docker(state).push("r/hoist/p:k")
        self.assertIn("already exists", refusal)

    def test_any_other_push_failure_raises(self):
        class P:
            def __init__(self, *a, **k):
                self.stdout = [b"denied: not authorized\n"]

            def wait(self):
                return 1
        with tempfile.TemporaryDirectory() as state, \
                unittest.mock.patch.object(image.subprocess, "Popen", P):
            with self.assertRaisesRegex(RuntimeError, "not authorized"):
                image.Docker(state).push("r/hoist/p:k")


if __name__ == "__main__":
    unittest.main()


class FlakyImds:
    """A fake IMDSv2 on loopback whose first `failures` requests fail (the
    connection dropped unanswered, or a 503, in turn); then it answers
    like IMDS: a token, the role's keys, a spot notice. `refuse_token`
    makes a GET with the first token issued answer 401 (expired)."""

    CREDS = {"AccessKeyId": "ASIAFAKE", "SecretAccessKey": "secret", "Token": "session",
             "Expiration": "2099-01-01T00:00:00Z"}

    def __init__(self, failures, refuse_token=False):
        self.failures = failures
        self.refuse_token = refuse_token
        self.tokens = 0
        self.requests = []  # (method, path, status)
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def reply(self, code, body=b""):
                fake.requests.append((self.command, self.path, code))
                self.send_response(code)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def failed(self):
                if fake.failures <= 0:
                    return False
                fake.failures -= 1
                if fake.failures % 2:
                    fake.requests.append((self.command, self.path, None))
                    self.close_connection = True  # dropped, no answer
                else:
                    self.reply(503)
                return True

            def do_PUT(self):
                if self.failed():
                    return
                fake.tokens += 1
                self.reply(200, b"token-%d" % fake.tokens)

            def do_GET(self):
                if self.failed():
                    return
                token = self.headers.get("X-aws-ec2-metadata-token") or ""
                if not token.startswith("token-") or (fake.refuse_token and token == "token-1"):
                    return self.reply(401)
                answers = {"/latest/meta-data/iam/security-credentials/": b"hoist-role\n",
                           "/latest/meta-data/iam/security-credentials/hoist-role":
                               json.dumps(FlakyImds.CREDS).encode(),
                           "/latest/meta-data/spot/instance-action":
                               b'{"action": "terminate", "time": "2099-01-01T00:02:00Z"}'}
                if self.path in answers:
                    return self.reply(200, answers[self.path])
                self.reply(404)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.endpoint = "http://127.0.0.1:%d" % self.server.server_port

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class ImdsRecovers(unittest.TestCase):
    NOTICE = "/latest/meta-data/spot/instance-action"

    def client(self, fake):
        with unittest.mock.patch.dict(os.environ, {"AWS_EC2_METADATA_SERVICE_ENDPOINT": fake.endpoint}):
            imds = aws.Imds()
        self.now = 1000.0
        imds.clock = lambda: self.now
        return imds

    def setUp(self):
        patcher = unittest.mock.patch.object(aws, "log", lambda msg: None)
        patcher.start()
        self.addCleanup(patcher.stop)

    def fake(self, *a, **kw):
        fake = FlakyImds(*a, **kw)
        self.addCleanup(fake.close)
        return fake

    def test_a_spot_notice_after_five_failures_in_a_row(self):
        fake = self.fake(5)
        imds = self.client(fake)
        answers = []
        for _ in range(5):
            answers.append(imds.get(self.NOTICE))
            asked = len(fake.requests)
            # Left alone while it backs off: no request at all.
            self.assertIsNone(imds.get(self.NOTICE))
            self.assertEqual(len(fake.requests), asked)
            self.now += aws.Imds.BACKOFF_CAP
        self.assertEqual(answers, [None] * 5)
        notice = imds.get(self.NOTICE)
        self.assertIsNotNone(notice, fake.requests)
        self.assertEqual(json.loads(notice)["action"], "terminate")
        self.assertEqual(imds.failures, 0)
        # Recovered: asked at once again, with no wait.
        self.assertIsNotNone(imds.get(self.NOTICE))

    def test_the_wait_grows_and_stops_at_a_minute(self):
        fake = self.fake(10 ** 6)
        imds = self.client(fake)
        waits = []
        for _ in range(12):
            imds.get(self.NOTICE)
            waits.append(imds.retry_at - self.now)
            self.now = imds.retry_at
        self.assertEqual(imds.failures, 12)  # every try reached the endpoint
        self.assertLess(waits[0], 1.01)
        self.assertGreater(waits[6], 16)
        self.assertTrue(all(w <= aws.Imds.BACKOFF_CAP for w in waits), waits)
        self.assertGreaterEqual(waits[-1], aws.Imds.BACKOFF_CAP / 2)

    def role_credentials(self, fake):
        """Credentials from the instance role only (no AWS_* keys), asked of
        a client of `fake`, for the rest of the test."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        for patcher in (unittest.mock.patch.dict(os.environ, env, clear=True),
                        unittest.mock.patch.object(aws, "IMDS", self.client(fake))):
            patcher.start()
            self.addCleanup(patcher.stop)
        return aws.Credentials()

    def test_credentials_after_five_failures_in_a_row(self):
        creds = self.role_credentials(self.fake(5))
        for _ in range(5):
            with self.assertRaises(aws.NoCredentials):
                creds.get()
            self.now += aws.Imds.BACKOFF_CAP
        self.assertEqual(creds.get(), ("ASIAFAKE", "secret", "session"))

    def test_keys_in_hand_outlive_a_failing_refresh(self):
        fake = self.fake(0)
        creds = self.role_credentials(fake)
        self.assertEqual(creds.get()[0], "ASIAFAKE")
        creds.expiry = aws.time.time() + 200  # inside the refresh window
        fake.failures = 2
        self.assertEqual(creds.get()[0], "ASIAFAKE")  # IMDS failed: the same keys
        creds.expiry = aws.time.time() + 10  # too close to expiry to be used
        self.now += aws.Imds.BACKOFF_CAP
        fake.failures = 2
        with self.assertRaises(aws.NoCredentials):
            creds.get()

    def test_a_refused_token_is_fetched_again(self):
        fake = self.fake(0, refuse_token=True)
        imds = self.client(fake)
        self.assertIsNotNone(imds.get(self.NOTICE))
        self.assertEqual([(m, p, c) for m, p, c in fake.requests], [
            ("PUT", "/latest/api/token", 200), ("GET", self.NOTICE, 401),
            ("PUT", "/latest/api/token", 200), ("GET", self.NOTICE, 200)])
        self.assertEqual(imds.token, "token-2")
        self.assertEqual(imds.failures, 0)


class FakeS3:
    """Objects in memory, as the agent's S3 client sees them."""

    def __init__(self):
        self.objects = {}
        self.puts = []
        self.deletes = []

    def get_bytes(self, bucket, key):
        return self.objects.get(key)

    def put_bytes(self, bucket, key, data, content_type=None):
        self.objects[key] = data
        self.puts.append(key)

    def upload_file(self, path, bucket, key):
        with open(path, "rb") as f:
            self.objects[key] = f.read()
        self.puts.append(key)
        return len(self.objects[key])

    def download(self, bucket, key, dest, sha256=None, size=None):
        data = self.objects[key]
        with open(dest, "wb") as f:
            f.write(data)
        return len(data)

    def delete(self, bucket, key):
        self.objects.pop(key, None)
        self.deletes.append(key)


class Checkpoints(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)
        self.folder = os.path.join(self.tmp.name, "cp")
        os.makedirs(self.folder)
        self.s3 = FakeS3()

    def write(self, rel, text):
        path = os.path.join(self.folder, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)

    def manifest(self):
        return json.loads(self.s3.objects["jobs/j/checkpoint.json"])["files"]

    def test_a_save_sends_what_changed_replaces_the_manifest_and_drops_old_contents(self):
        cp = checkpoint.Checkpoint(self.s3, "b", "j", self.folder, threads=2)
        self.write("model.bin", "v1")
        self.write("sub/log.txt", "same")
        self.assertEqual(cp.save(1)["files"], 2)
        first = dict(self.manifest())
        self.assertEqual(sorted(first), ["model.bin", "sub/log.txt"])
        self.assertEqual(self.s3.puts[-1], "jobs/j/checkpoint.json")  # the manifest after the contents
        self.s3.puts.clear()
        self.assertIsNone(cp.save(1))  # nothing changed: nothing sent
        self.assertEqual(self.s3.puts, [])
        self.write("model.bin", "v2")
        os.utime(os.path.join(self.folder, "model.bin"), ns=(1, 2))
        saved = cp.save(1)
        self.assertEqual(saved["sent"], 2)  # the changed file only
        self.assertEqual(self.manifest()["sub/log.txt"], first["sub/log.txt"])
        self.assertEqual(self.s3.deletes, ["jobs/j/checkpoint/" + first["model.bin"]["sha256"]])
        os.unlink(os.path.join(self.folder, "sub", "log.txt"))
        cp.save(2, final=True)
        self.assertEqual(sorted(self.manifest()), ["model.bin"])
        kept = {k for k in self.s3.objects if k.startswith("jobs/j/checkpoint/")}
        self.assertEqual(kept, {"jobs/j/checkpoint/" + self.manifest()["model.bin"]["sha256"]})

    def test_links_are_not_saved_and_a_file_written_while_read_keeps_its_last_save(self):
        cp = checkpoint.Checkpoint(self.s3, "b", "j", self.folder, threads=1)
        self.write("state.json", "old")
        cp.save(1)
        old = self.manifest()["state.json"]
        os.symlink("/etc/passwd", os.path.join(self.folder, "leak"))
        self.write("state.json", "new, half written")
        real = checkpoint.file_sha256

        def racing(path):  # the script writes again while the agent reads
            digest = real(path)
            with open(path, "a") as f:
                f.write("more")
            return digest
        with unittest.mock.patch.object(checkpoint, "file_sha256", racing):
            cp.save(1)
        self.assertEqual(self.manifest(), {"state.json": old})
        cp.save(1, final=True)  # the script has stopped: the file as it is now
        self.assertNotEqual(self.manifest()["state.json"]["sha256"], old["sha256"])

    def test_restore_takes_the_last_save_else_the_seed(self):
        self.s3.objects["blobs/sha256/" + "a" * 64] = b"seeded"
        cp = checkpoint.Checkpoint(self.s3, "b", "j", self.folder)
        self.assertEqual(cp.restore(seed={"seed.txt": {"sha256": "a" * 64, "size": 6, "mode": 0o644}})[:2], (1, 6))
        with open(os.path.join(self.folder, "seed.txt")) as f:
            self.assertEqual(f.read(), "seeded")
        cp.save(1)
        other = os.path.join(self.tmp.name, "next")
        again = checkpoint.Checkpoint(self.s3, "b", "j", other)
        self.assertEqual(again.restore(seed={"ignored": {"sha256": "b" * 64}})[2], "the last checkpoint")
        self.assertEqual(os.listdir(other), ["seed.txt"])
        self.s3.puts.clear()
        self.assertIsNotNone(again.save(2))
        self.assertEqual(self.s3.puts, ["jobs/j/checkpoint.json"])  # its contents are there already
        with self.assertRaises(ValueError):  # a name that leaves the folder
            bad = {"files": {"../x": {"sha256": "a" * 64, "size": 6}}}
            self.s3.objects["jobs/j/checkpoint.json"] = json.dumps(bad).encode()
            checkpoint.Checkpoint(self.s3, "b", "j", other).restore()


class FakeEc2:
    def __init__(self, refuse):
        self.refuse = refuse  # (market, zone) -> error code
        self.calls = []

    def call(self, action, params):
        p = dict(params)
        market = "spot" if p.get("InstanceMarketOptions.MarketType") == "spot" else "on-demand"
        zone = p.get("Placement.AvailabilityZone", "")
        self.calls.append((market, zone, p["ClientToken"]))
        code = self.refuse.get((market, zone)) or self.refuse.get((market, "*"))
        if code:
            raise aws.AwsError(500, code, "no")
        import xml.etree.ElementTree as ET
        return ET.fromstring("<RunInstancesResponse xmlns='http://ec2.amazonaws.com/doc/2016-11-15/'>"
                             "<instancesSet><item><instanceId>i-new</instanceId><placement>"
                             "<availabilityZone>%s</availabilityZone></placement></item></instancesSet>"
                             "</RunInstancesResponse>" % (zone or "z-any"))


class Successors(unittest.TestCase):
    SPEC = {"recovery": {"spot_retries": 1, "spot_fallback": False},
            "launch": {"params": [["ImageId", "ami-1"], ["InstanceType", "t3.medium"]],
                       "spot_zones": ["z-a", "z-b"], "zones": ["z-a", "z-b", "z-c"]}}

    def spec(self, **recovery):
        s = json.loads(json.dumps(self.SPEC))
        s["recovery"].update(recovery)
        return s

    def test_which_market_the_next_attempt_is(self):
        self.assertEqual(successor.plan(self.spec(), 1, True), "spot")
        self.assertIsNone(successor.plan(self.spec(), 2, True))  # the one retry is used
        self.assertEqual(successor.plan(self.spec(spot_fallback=True), 2, True), "on-demand")
        self.assertIsNone(successor.plan(self.spec(), 1, False))  # on demand is not interrupted
        self.assertIsNone(successor.plan({"recovery": {"spot_retries": 3}}, 1, True))  # no launch request

    def test_the_interrupted_zone_last_then_anywhere_then_on_demand(self):
        ec2 = FakeEc2({("spot", "*"): "InsufficientInstanceCapacity"})
        with self.assertRaises(aws.AwsError):
            successor.launch(ec2, self.spec(), "j", 2, "spot", "z-a")
        self.assertEqual([c[:2] for c in ec2.calls], [("spot", "z-b"), ("spot", "z-a"), ("spot", "")])
        self.assertEqual(len({c[2] for c in ec2.calls}), 3)  # a token each
        ec2 = FakeEc2({("spot", "*"): "InsufficientInstanceCapacity"})
        got = successor.launch(ec2, self.spec(spot_fallback=True), "j", 2, "spot", "z-a")
        self.assertEqual(got, {"instance_id": "i-new", "zone": "z-b", "spot": False})
        self.assertEqual(ec2.calls[3][:2], ("on-demand", "z-b"))  # the offered zones, the interrupted one last

    def test_an_error_that_no_zone_would_help_is_not_retried_elsewhere(self):
        ec2 = FakeEc2({("spot", "*"): "UnauthorizedOperation"})
        with self.assertRaises(aws.AwsError):
            successor.launch(ec2, self.spec(spot_fallback=True), "j", 2, "spot", "z-a")
        self.assertEqual(len(ec2.calls), 1)
