"""The job's container image: found in the registry by its key, else built
on the instance and pushed.

The registry is the job's ECR registry (job.json's image.registry) or, on an
emulated host, HOIST_REGISTRY (a plain-HTTP OCI registry on loopback; DESIGN
B3). Whether the image for a key exists is asked of the registry itself (a
manifest HEAD of the tag), so reuse works against any OCI registry. The
container then runs by the digest the registry gave, never by the tag.

Tags are immutable in hoist's repositories: when two jobs build the same new
key at once, the second push is refused (TAG_INVALID) and that job pulls and
runs the winner's image, so both run the same digest.
"""
import base64
import json
import os
import platform
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request

from hoist_agent.aws import AwsError, retrying
from hoist_agent.util import log, run_logged

# What a manifest HEAD accepts: Docker's v2 manifest and list, and OCI's.
MANIFEST_TYPES = ", ".join([
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
])
DOCKER_WAIT = 120.0  # seconds the engine may take to answer after boot


def machine_arch():
    """This host's CPU as Docker and EC2 name it: amd64 or arm64."""
    m = platform.machine().lower()
    return {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(m, m)


def ec2_arch(arch):
    """EC2's name for an architecture (x86_64, arm64) as Docker's (amd64, arm64)."""
    return {"x86_64": "amd64", "x86_64_mac": "amd64"}.get(arch, arch)


class Registry:
    """The OCI distribution API of one registry, with ECR's basic auth."""

    def __init__(self, host, user, password):
        self.host = host
        # B3: the emulated registry is plain HTTP on loopback; ECR is HTTPS.
        self.scheme = "http" if os.environ.get("HOIST_REGISTRY") else "https"
        self.auth = "Basic " + base64.b64encode(("%s:%s" % (user, password)).encode()).decode()

    def manifest_digest(self, repository, reference):
        """The digest the registry gives for repository:reference, or None
        when it has no such manifest."""
        url = "%s://%s/v2/%s/manifests/%s" % (self.scheme, self.host, repository, reference)

        def once():
            req = urllib.request.Request(url, method="HEAD", headers={
                "Authorization": self.auth, "Accept": MANIFEST_TYPES})
            try:
                with urllib.request.urlopen(req, timeout=30) as r:
                    return r.headers.get("Docker-Content-Digest") or ""
            except urllib.error.HTTPError as e:
                if e.code == 404:
                    return None
                # 5xx and 429 are retried; the rest are real (a 401: bad login).
                raise AwsError(e.code, "Registry%d" % e.code, "HEAD %s" % url)
        return retrying(once, "HEAD %s" % url)


class Docker:
    """The instance's Docker engine, through the docker CLI. Its client
    config (holding the registry login) lives in the job's private state, never
    in a folder a container sees."""

    def __init__(self, state_dir):
        self.env = dict(os.environ, DOCKER_CONFIG=os.path.join(state_dir, "docker"))
        os.makedirs(self.env["DOCKER_CONFIG"], mode=0o700, exist_ok=True)

    def run(self, args, check=True):
        return run_logged(["docker"] + args, check=check, env=self.env)

    def quiet(self, args):
        """Exit status and stdout of a docker command whose output is data."""
        p = subprocess.run(["docker"] + args, env=self.env, stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        return p.returncode, p.stdout.decode("utf-8", "replace").strip(), \
            p.stderr.decode("utf-8", "replace").strip()

    def ready(self, wait=DOCKER_WAIT, sleep=None):
        """Starts the engine when this host has one that is not running, and
        waits for it to answer. An AMI with Docker preinstalled (the ECS
        image, the Deep Learning AMI) starts it without blocking cloud-init;
        any other AL2023 image installs it first."""
        sleep = sleep or time.sleep
        if not os.environ.get("DOCKER_HOST"):
            if subprocess.call(["sh", "-c", "command -v docker"], stdout=subprocess.DEVNULL) != 0:
                run_logged(["dnf", "install", "-y", "-q", "docker"])
            # --no-block: this runs inside cloud-init, which docker.service is
            # ordered after; a blocking start would wait on itself.
            run_logged(["systemctl", "start", "--no-block", "docker"], check=False)
        deadline = time.monotonic() + wait
        while True:
            rc, out, err = self.quiet(["version", "--format", "{{.Server.Version}}"])
            if rc == 0:
                log("docker engine %s ready" % out)
                return out
            if time.monotonic() >= deadline:
                raise RuntimeError("the Docker engine did not answer within %ds: %s"
                                   % (int(wait), err.splitlines()[-1] if err else "no answer"))
            sleep(1)

    def login(self, registry, user, password):
        """docker login with the password on stdin (never on a command line)."""
        p = subprocess.run(["docker", "login", "--username", user, "--password-stdin", registry],
                           input=password.encode(), env=self.env, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT)
        if p.returncode != 0:
            raise RuntimeError("docker login to %s failed: %s"
                               % (registry, p.stdout.decode("utf-8", "replace").strip()[-300:]))

    def has(self, ref):
        return self.quiet(["image", "inspect", "--format", "{{.Id}}", ref])[0] == 0

    def architecture(self, ref):
        rc, out, _ = self.quiet(["image", "inspect", "--format", "{{.Architecture}}", ref])
        return out if rc == 0 else ""

    def push(self, ref):
        """Pushes ref; returns None, or the registry's refusal when the tag
        already exists (an immutable tag another job pushed first)."""
        log("$ docker push %s" % ref)
        p = subprocess.Popen(["docker", "push", ref], env=self.env, stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        lines = []
        for raw in p.stdout:
            line = raw.decode("utf-8", "replace")
            lines.append(line)
            sys.stderr.write(line)
        rc = p.wait()
        if rc == 0:
            return None
        text = "".join(lines)
        if re.search(r"tag invalid|TAG_INVALID|already exists|cannot be overwritten", text, re.I):
            return text.strip().splitlines()[-1]
        raise RuntimeError("docker push %s exited with status %d: %s"
                           % (ref, rc, text.strip().splitlines()[-1] if text.strip() else ""))


def registry_login(ecr):
    """(user, password) for the registry from ECR's GetAuthorizationToken."""
    data = ecr.call("GetAuthorizationToken", {})["authorizationData"][0]
    user, password = base64.b64decode(data["authorizationToken"]).decode().split(":", 1)
    return user, password


def write_context(ctx, image, requirements):
    """The build context: hoist's Dockerfile (as the laptop wrote it into
    job.json) and requirements.txt; the code is mounted at run time."""
    os.makedirs(ctx, exist_ok=True)
    with open(os.path.join(ctx, "Dockerfile"), "w") as f:
        f.write(image.get("dockerfile") or
                "FROM public.ecr.aws/docker/library/python:%s-slim\n" % image.get("python", "3.11"))
    data = b""
    if os.path.exists(requirements):
        with open(requirements, "rb") as f:
            data = f.read()
    with open(os.path.join(ctx, "requirements.txt"), "wb") as f:
        f.write(data)


def provide(docker, ecr, image, requirements, work):
    """Makes the job's image present on this host; returns the status
    record's image entry: key, the digest it runs by, the reference, and
    whether it was reused from the registry or built and pushed here."""
    key = image["key"]
    repo = image["repository"]
    host = os.environ.get("HOIST_REGISTRY") or image["registry"]
    name = "%s/%s" % (host, repo)
    tagged = "%s:%s" % (name, key)
    want_arch = ec2_arch(image.get("arch") or machine_arch())
    if want_arch != machine_arch():
        raise RuntimeError("the job's image is for %s but this instance is %s"
                           % (want_arch, machine_arch()))
    docker.ready()
    user, password = registry_login(ecr)
    docker.login(host, user, password)
    registry = Registry(host, user, password)

    entry = {"key": key, "repository": repo, "reused": False, "pushed": False}
    digest = registry.manifest_digest(repo, key)
    if digest:
        log("image %s is in the registry (%s): pulling it" % (key[:12], digest))
        if pull(docker, name, digest):
            entry.update(reused=True, digest=digest)
            return finish(docker, entry, name, want_arch)
        log("the pull failed: building the image instead")

    write_context(os.path.join(work, "build"), image, requirements)
    docker.run(["build", "--pull=false", "-t", tagged, os.path.join(work, "build")])
    refused = push(docker, registry, repo, key, tagged)
    if refused:
        # Another job pushed this key first: run its image, as every job
        # with this key does. Its push may still be settling, so the tag is
        # asked for again, with back-off, before giving up on it.
        log("the registry kept the image another job pushed first (%s): using it" % refused)
        digest = winner_digest(registry, repo, key)
        if digest and pull(docker, name, digest):
            entry.update(reused=True, digest=digest, raced=True)
            return finish(docker, entry, name, want_arch)
        # Same key, same requirements and Dockerfile: our own build is the
        # same environment, only not the registry's copy of it.
        log("the other job's image could not be pulled (%s): running this instance's own build "
            "of the same key" % (digest or "the registry names no digest"))
        rc, local_id, _ = docker.quiet(["image", "inspect", "--format", "{{.Id}}", tagged])
        if rc != 0 or not local_id:
            raise RuntimeError("the registry refused our push of %s, its own image could not be "
                               "pulled, and the local build is gone" % tagged)
        entry.update(raced=True, digest=local_id)
        entry["ref"] = tagged
        return entry
    digest = registry.manifest_digest(repo, key)
    if not digest:
        raise RuntimeError("%s was pushed but the registry does not list it" % tagged)
    entry.update(pushed=True, digest=digest)
    if not docker.has("%s@%s" % (name, digest)):
        # A registry whose tags are mutable let a concurrent push replace
        # ours: the tag's image is the one every job runs.
        if not pull(docker, name, digest):
            raise RuntimeError("could not pull %s@%s" % (name, digest))
    return finish(docker, entry, name, want_arch)


def push(docker, registry, repo, key, tagged, waits=(2, 4, 8)):
    """Pushes tagged; returns the registry's refusal when another job holds
    the tag. A push that fails otherwise (a registry's 5xx, busy with other
    jobs' pushes) is tried again with back-off; if the tag appeared
    meanwhile, that job won and its image is used."""
    for w in waits + (None,):
        try:
            return docker.push(tagged)
        except RuntimeError as e:
            if registry.manifest_digest(repo, key):
                return "the tag was pushed by another job meanwhile (%s)" % e
            if w is None:
                raise
            log("push failed (%s); again in %ds" % (e, w))
            time.sleep(w)


def winner_digest(registry, repo, key, waits=(1, 2, 4, 8)):
    """The digest of the tag another job pushed, asked again while it is not
    listed yet (None if it never is)."""
    digest = registry.manifest_digest(repo, key)
    for w in waits:
        if digest:
            break
        time.sleep(w)
        digest = registry.manifest_digest(repo, key)
    return digest


def pull(docker, name, digest, waits=(0, 2, 4, 8, 8)):
    """Pulls name@digest, trying again with back-off (a pull can fail while
    the registry is busy with other jobs' pushes)."""
    for w in waits:
        time.sleep(w)
        if docker.run(["pull", "%s@%s" % (name, digest)], check=False) == 0:
            return True
    return False


def finish(docker, entry, name, want_arch):
    ref = "%s@%s" % (name, entry["digest"])
    arch = docker.architecture(ref)
    if arch and arch != want_arch:
        raise RuntimeError("image %s is for %s, not this %s instance: its key should "
                           "have told them apart" % (ref, arch, want_arch))
    entry["ref"] = ref
    return entry


def describe(entry):
    """One line for the log."""
    how = "reused from the registry" if entry.get("reused") else "built and pushed"
    return "image %s %s (%s)" % (entry["key"][:12], how, entry.get("digest"))


def manifest_for_process_mode(key):
    """The small manifest the process runtime registers in ECR for a key it
    'built' (a venv), so the next job with that key reports a reuse."""
    return json.dumps({
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json",
                   "size": len(key), "digest": "sha256:" + key},
        "layers": [],
        "annotations": {"hoist.image.key": key, "hoist.runtime": "process"}})
