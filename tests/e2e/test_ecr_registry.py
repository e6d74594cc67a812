"""End-to-end tests of the emulated cloud's container side: the Docker engine
(scripts/containers.sh) and one account's ECR registry (tools/ecr_registry.py
in front of Debian's docker-registry), driven with the real docker CLI and
checked over the registry's HTTP API and with boto3's ECR (moto).

    python3 -m unittest tests/e2e/test_ecr_registry.py -v
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Emulator, docker_engine, show  # noqa: E402

BASE = "public.ecr.aws/docker/library/python:3.11-slim"


class EcrRegistryTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="hoist-ecr-e2e-")
        docker_engine()  # a clear error here when no engine can run
        cls.emu = Emulator(cls.tmp, runner=False, runtime="docker").start()
        cls.reg = cls.emu.registry
        cls.run_id = os.path.basename(cls.tmp).lower().replace("_", "-")
        # Tiny images: the base and one file of their own.
        cls.images = {}
        for name in ("a", "b", "c", "d"):
            ctx = os.path.join(cls.tmp, "ctx-" + name)
            os.makedirs(ctx)
            with open(os.path.join(ctx, "f.txt"), "w") as f:
                f.write("image %s of %s\n" % (name, cls.run_id))
            with open(os.path.join(ctx, "Dockerfile"), "w") as f:
                f.write("FROM %s\nCOPY f.txt /hoist-test.txt\n" % BASE)
            local = "hoist-test-ecr/%s:%s" % (name, cls.run_id)
            p = cls.emu.docker("build", "-q", "-t", local, ctx)
            if p.returncode != 0:
                raise RuntimeError(show(p))
            cls.images[name] = local
        cls.tagged = list(cls.images.values())
        p = cls.emu.docker_login()
        if p.returncode != 0:
            raise RuntimeError("docker login: " + show(p))
        # The same registry by another name: one engine can then hold two
        # images for one repository:tag, as two machines would.
        cls.alias = cls.reg.replace("127.0.0.1", "localhost")
        p = cls.emu.docker("login", "--username", "AWS", "--password-stdin", cls.alias,
                           input=cls.emu.registry_auth_password())
        if p.returncode != 0:
            raise RuntimeError("docker login: " + show(p))

    @classmethod
    def tearDownClass(cls):
        if getattr(cls, "tagged", None):
            cls.emu.docker("rmi", *cls.images.values())
            cls.emu.remove_images(cls.reg, getattr(cls, "alias", cls.reg))
        cls.emu.stop()
        if not os.environ.get("HOIST_KEEP_TMP"):
            shutil.rmtree(cls.tmp, ignore_errors=True)

    # ---- helpers ----
    def push(self, image, repo, tag, registry=None):
        ref = "%s/%s:%s" % (registry or self.reg, repo, tag)
        p = self.emu.docker("tag", self.images[image], ref)
        self.assertEqual(p.returncode, 0, show(p))
        self.tagged.append(ref)
        return self.emu.docker("push", ref, timeout=240)

    def manifest(self, repo, ref):
        status, headers, body = self.emu.registry_get("/v2/%s/manifests/%s" % (repo, ref))
        return status, headers.get("docker-content-digest"), body

    def ecr_digest(self, repo, tag):
        d = self.emu.ecr.describe_images(repositoryName=repo, imageIds=[{"imageTag": tag}])["imageDetails"]
        return d[0]["imageDigest"] if d else None

    # ---- tests ----
    def test_login_needs_the_token(self):
        p = self.emu.docker("login", "--username", "AWS", "--password-stdin", self.reg, input="wrong")
        self.assertNotEqual(p.returncode, 0, show(p))
        status, headers, _ = self.emu.registry_get("/v2/", auth=False)
        self.assertEqual(status, 401)
        self.assertEqual(headers["www-authenticate"],
                         'Basic realm="https://%s/",service="ecr.amazonaws.com"' % self.reg)
        status, _, _ = self.emu.registry_get("/v2/", headers={"Authorization": "Basic QVdTOndyb25n"})
        self.assertEqual(status, 401)
        self.assertEqual(self.emu.registry_get("/v2/")[0], 200)

    def test_push_pull_and_describe_images(self):
        self.emu.ecr.create_repository(repositoryName="hoist/open")
        p = self.push("a", "hoist/open", "v1")
        self.assertEqual(p.returncode, 0, show(p))
        status, digest, body = self.manifest("hoist/open", "v1")
        self.assertEqual(status, 200)
        # ECR's API sees the image as pushed: same digest, tag and media type.
        d = self.emu.ecr.describe_images(repositoryName="hoist/open")["imageDetails"]
        self.assertEqual([(i["imageDigest"], i["imageTags"]) for i in d], [(digest, ["v1"])])
        self.assertEqual(d[0]["imageManifestMediaType"], json.loads(body)["mediaType"])
        ids = self.emu.ecr.list_images(repositoryName="hoist/open")["imageIds"]
        self.assertEqual(ids, [{"imageDigest": digest, "imageTag": "v1"}])
        self.assertIn(digest, p.stdout)
        # A pull by tag gets it back (the engine's own copy removed first).
        ref = "%s/hoist/open:v1" % self.reg
        self.assertEqual(self.emu.docker("rmi", ref).returncode, 0)
        p = self.emu.docker("pull", ref)
        self.assertEqual(p.returncode, 0, show(p))
        p = self.emu.docker("run", "--rm", "--network", "none", ref, "cat", "/hoist-test.txt")
        self.assertEqual(p.stdout, "image a of %s\n" % self.run_id, show(p))

        # Unauthenticated: refused, over the API and with docker.
        self.assertEqual(self.emu.registry_get("/v2/hoist/open/manifests/v1", auth=False)[0], 401)
        anon = dict(self.emu.docker_env(), DOCKER_CONFIG=os.path.join(self.tmp, "anon-config"))
        p = subprocess.run(["docker", "pull", ref], env=anon, capture_output=True, text=True, timeout=120)
        self.assertNotEqual(p.returncode, 0, show(p))
        self.assertIn("basic auth", p.stderr.lower() + p.stdout.lower(), show(p))

        # A mutable repository lets a tag move; ECR's API follows it.
        p = self.push("b", "hoist/open", "v1")
        self.assertEqual(p.returncode, 0, show(p))
        _, digest_b, _ = self.manifest("hoist/open", "v1")
        self.assertNotEqual(digest_b, digest)
        self.assertEqual(self.ecr_digest("hoist/open", "v1"), digest_b)

    def test_push_to_a_repository_not_in_ecr_fails(self):
        p = self.push("a", "hoist/missing", "v1")
        self.assertNotEqual(p.returncode, 0, show(p))
        self.assertIn("name unknown", p.stderr.lower(), show(p))
        status, _, body = self.emu.registry_get("/v2/hoist/missing/tags/list")
        self.assertEqual(status, 404)
        self.assertEqual(json.loads(body)["errors"][0]["code"], "NAME_UNKNOWN")

    def test_immutable_tag_cannot_be_overwritten(self):
        self.emu.ecr.create_repository(repositoryName="hoist/imm", imageTagMutability="IMMUTABLE")
        p = self.push("a", "hoist/imm", "k1")
        self.assertEqual(p.returncode, 0, show(p))
        _, first, first_body = self.manifest("hoist/imm", "k1")
        p = self.push("b", "hoist/imm", "k1")
        self.assertNotEqual(p.returncode, 0, show(p))
        self.assertIn("tag invalid: The image tag 'k1' already exists in the 'hoist/imm' repository and "
                      "cannot be overwritten because the repository is immutable.", p.stderr, show(p))
        self.assertEqual(self.manifest("hoist/imm", "k1")[1], first)
        self.assertEqual(self.ecr_digest("hoist/imm", "k1"), first)
        # The same bytes again are refused too, as ECR refuses them.
        status, _, body = self.emu.registry_get(
            "/v2/hoist/imm/manifests/k1", method="PUT", body=first_body,
            headers={"Content-Type": json.loads(first_body)["mediaType"]})
        self.assertEqual(status, 400)
        self.assertEqual(json.loads(body), {"errors": [{
            "code": "TAG_INVALID", "message": "The image tag 'k1' already exists in the 'hoist/imm' repository "
            "and cannot be overwritten because the repository is immutable."}]})
        # A new tag for the same image is fine.
        status, headers, _ = self.emu.registry_get(
            "/v2/hoist/imm/manifests/k2", method="PUT", body=first_body,
            headers={"Content-Type": json.loads(first_body)["mediaType"]})
        self.assertEqual(status, 201)
        self.assertEqual(headers["docker-content-digest"], first)
        self.assertEqual(self.ecr_digest("hoist/imm", "k2"), first)

    def test_racing_pushes_of_one_new_tag_one_wins(self):
        self.emu.ecr.create_repository(repositoryName="hoist/race", imageTagMutability="IMMUTABLE")
        results = {}

        def push(image, registry):
            results[image] = self.push(image, "hoist/race", "key", registry)
        threads = [threading.Thread(target=push, args=a) for a in (("c", self.reg), ("d", self.alias))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(300)
        ok = [i for i, p in results.items() if p.returncode == 0]
        failed = [p for p in results.values() if p.returncode != 0]
        self.assertEqual(len(ok), 1, "\n".join(show(p) for p in results.values()))
        self.assertIn("tag invalid", failed[0].stderr, show(failed[0]))
        # The winner's image is the tag's, in the registry and in ECR.
        _, digest, _ = self.manifest("hoist/race", "key")
        self.assertIn(digest, results[ok[0]].stdout)
        self.assertEqual(self.ecr_digest("hoist/race", "key"), digest)

        # Eight manifest PUTs of a new tag at once, straight to the API.
        _, _, body = self.manifest("hoist/race", "key")
        ctype = json.loads(body)["mediaType"]
        statuses = []
        go = threading.Barrier(8)

        def put():
            go.wait()
            statuses.append(self.emu.registry_get("/v2/hoist/race/manifests/raw", method="PUT", body=body,
                                                  headers={"Content-Type": ctype})[0])
        threads = [threading.Thread(target=put) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        self.assertEqual(sorted(statuses), [201] + [400] * 7)

    def test_ecr_is_the_record_of_tags(self):
        # A tag deleted through ECR's API (hoist gc) is gone from the registry too.
        self.emu.ecr.create_repository(repositoryName="hoist/gc", imageTagMutability="IMMUTABLE")
        p = self.push("c", "hoist/gc", "old")
        self.assertEqual(p.returncode, 0, show(p))
        status, _, body = self.emu.registry_get("/v2/hoist/gc/tags/list")
        self.assertEqual((status, json.loads(body)["tags"]), (200, ["old"]))
        self.emu.ecr.batch_delete_image(repositoryName="hoist/gc", imageIds=[{"imageTag": "old"}])
        status, _, body = self.emu.registry_get("/v2/hoist/gc/manifests/old")
        self.assertEqual(status, 404)
        self.assertEqual(json.loads(body)["errors"][0]["code"], "MANIFEST_UNKNOWN")
        self.assertEqual(json.loads(self.emu.registry_get("/v2/hoist/gc/tags/list")[2])["tags"], [])
        # ... so the tag can be pushed again, immutable or not.
        p = self.push("d", "hoist/gc", "old")
        self.assertEqual(p.returncode, 0, show(p))


class HostRunnerDockerTests(unittest.TestCase):
    """tools/hostrunner.py --runtime docker: what an instance gets (DESIGN B3),
    and the end of the instance ends its containers."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="hoist-runner-docker-e2e-")
        cls.emu = Emulator(cls.tmp, runtime="docker").start()

    @classmethod
    def tearDownClass(cls):
        cls.emu.stop()
        if not os.environ.get("HOIST_KEEP_TMP"):
            shutil.rmtree(cls.tmp, ignore_errors=True)

    def launch(self, script):
        ami = self.emu.ec2.describe_images()["Images"][0]["ImageId"]
        r = self.emu.ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1, UserData=script,
                                       TagSpecifications=[{"ResourceType": "instance", "Tags": [
                                           {"Key": "hoist:managed", "Value": "true"}]}])
        return r["Instances"][0]["InstanceId"]

    def wait_for(self, path, timeout=60):
        deadline = time.time() + timeout
        while not os.path.exists(path) and time.time() < deadline:
            time.sleep(0.2)
        return os.path.exists(path)

    def test_instance_environment_and_containers(self):
        iid = self.launch(
            "#!/bin/bash\n"
            "env | sort >\"$HOIST_HOST_ROOT/env.tmp\"\n"
            "docker run -d --label hoist.instance=\"$HOIST_INSTANCE_ID\" --network none %s sleep 300 "
            ">\"$HOIST_HOST_ROOT/container\"\n"
            "mv \"$HOIST_HOST_ROOT/env.tmp\" \"$HOIST_HOST_ROOT/env\"\n"
            "sleep 300\n" % BASE)
        root = os.path.join(self.emu.host_root, iid)
        self.assertTrue(self.wait_for(os.path.join(root, "env")), self.emu.diagnostics())
        with open(os.path.join(root, "env")) as f:
            env = dict(line.rstrip("\n").split("=", 1) for line in f if "=" in line)
        self.assertEqual(env["DOCKER_HOST"], self.emu.docker_host)
        self.assertEqual(env["HOIST_REGISTRY"], self.emu.registry)
        self.assertNotIn("HOIST_RUNTIME", env)
        self.assertEqual(env["DOCKER_CONFIG"], os.path.join(root, "root", ".docker"))
        with open(os.path.join(root, "container")) as f:
            container = f.read().strip()
        self.assertTrue(container)
        p = self.emu.docker("inspect", "-f", "{{.State.Running}}", container)
        self.assertEqual(p.stdout.strip(), "true", show(p))
        # Terminated through the API: its script and its container end.
        self.emu.ec2.terminate_instances(InstanceIds=[iid])
        deadline = time.time() + 60
        while time.time() < deadline:
            p = self.emu.docker("inspect", container)
            if p.returncode != 0:
                break
            time.sleep(0.5)
        self.assertNotEqual(p.returncode, 0, "container %s outlived its instance\n%s"
                            % (container, self.emu.diagnostics()))


if __name__ == "__main__":
    unittest.main()
