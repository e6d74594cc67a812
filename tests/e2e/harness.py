"""Shared helpers for end-to-end tests that drive the real `hoist` binary
against emulated AWS: moto_server + tools/hostrunner.py on 127.0.0.1 free
ports, temp dirs, the environment hoist needs (never real AWS), and
independent boto3 clients to check what hoist did.

    emu = Emulator(tmpdir).start()          # moto + host runner
    p = emu.hoist("run", project, "-i", inp, "-o", out, "--yes")
    emu.s3.list_objects_v2(...)
    emu.stop()

The instances run with the Docker runtime (a real engine from
scripts/containers.sh and one account's registry, tools/ecr_registry.py, per
Emulator) or the process runtime (DESIGN B3): Emulator(tmp, runtime=...),
default $HOIST_TEST_RUNTIME, else DEFAULT_RUNTIME.
"""
import base64
import contextlib
import glob
import http.client
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

import boto3

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import moto_keepalive  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
EXAMPLES = os.path.join(ROOT, "examples")
REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's account
BUCKET = "hoist-%s-%s" % (ACCOUNT, REGION)
# The instances' runtime when a test does not choose: "docker" (containers on
# the engine scripts/containers.sh gives) or "process". HOIST_TEST_RUNTIME
# overrides it for every test.
DEFAULT_RUNTIME = "docker"
RUNTIME = os.environ.get("HOIST_TEST_RUNTIME") or DEFAULT_RUNTIME
MANIFEST_TYPES = ("application/vnd.docker.distribution.manifest.v2+json",
                  "application/vnd.docker.distribution.manifest.list.v2+json",
                  "application/vnd.oci.image.manifest.v1+json",
                  "application/vnd.oci.image.index.v1+json")


def find_hoist():
    """HOIST_BIN (ctest sets it), else $HOIST_SOURCE_DIR/build/hoist, else the
    newest build*/hoist in the source tree."""
    env = os.environ.get("HOIST_BIN")
    if env:
        return env
    src = os.environ.get("HOIST_SOURCE_DIR", ROOT)
    default = os.path.join(src, "build", "hoist")
    if os.path.isfile(default) and os.access(default, os.X_OK):
        return default
    found = [p for p in glob.glob(os.path.join(src, "build*", "hoist")) if os.access(p, os.X_OK)]
    if not found:
        raise RuntimeError("no hoist binary: set HOIST_BIN or build into %s/build" % src)
    return max(found, key=os.path.getmtime)


def free_port():
    with contextlib.closing(socket.socket()) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


_engine = {}


def docker_engine():
    """DOCKER_HOST of the Docker engine, with the base image built
    (scripts/containers.sh engine): asked once per process. Raises with the
    script's own one-line reason when no engine can run."""
    if "host" not in _engine:
        p = subprocess.run([os.path.join(ROOT, "scripts", "containers.sh"), "engine"],
                           capture_output=True, text=True, timeout=1800, stdin=subprocess.DEVNULL)
        lines = [ln for ln in p.stdout.splitlines() if ln.startswith("DOCKER_HOST=")]
        if p.returncode != 0 or not lines:
            _engine["host"] = None
            _engine["error"] = (p.stderr.strip().splitlines() or ["exit %d" % p.returncode])[-1]
        else:
            _engine["host"] = lines[-1].split("=", 1)[1]
    if _engine["host"] is None:
        raise RuntimeError("no Docker engine for the docker runtime: %s" % _engine["error"])
    return _engine["host"]


def tree(root, skip=("__pycache__",)):
    """{relative path: bytes} of every file under root."""
    out = {}
    for d, dirs, names in os.walk(root):
        dirs[:] = [x for x in dirs if x not in skip]
        for n in names:
            p = os.path.join(d, n)
            with open(p, "rb") as f:
                out[os.path.relpath(p, root).replace(os.sep, "/")] = f.read()
    return out


def write_tree(root, files):
    for rel, data in files.items():
        p = os.path.join(root, rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "wb" if isinstance(data, bytes) else "w") as f:
            f.write(data)
    return root



def show(p, tail=3000):
    """A finished command's exit status and the ends of its output, for
    assertion messages."""
    return "exit %s\n--- stdout\n%s\n--- stderr\n%s" % (p.returncode, p.stdout[-tail:], p.stderr[-tail:])

class Emulator:
    """One moto_server and (optionally) one host runner, on free ports.

    server "keepalive" serves the same moto over HTTP/1.1 keep-alive
    (tests/tools/moto_keepalive.py); moto_server closes every connection.

    runtime "docker" (default: RUNTIME) runs the instances' containers on the
    engine docker_engine() gives, pushing to this Emulator's own registry
    (self.registry, "127.0.0.1:PORT", started with the host runner or on first
    use); "process" runs them as processes and starts no engine or registry."""

    def __init__(self, tmp, runner=True, server="moto_server", server_args=(), runtime=None):
        self.tmp = tmp
        self.want_runner = runner
        self.server = server
        self.server_args = list(server_args)
        self.runtime = runtime or RUNTIME
        if self.runtime not in ("docker", "process"):
            raise ValueError("runtime %r: docker or process" % self.runtime)
        self.port = free_port()
        self.endpoint = "http://127.0.0.1:%d" % self.port
        self.moto = self.runner = self.registry_proc = None
        self._registry = None
        self.docker_host = None
        self.host_root = os.path.join(tmp, "hosts")

    def base_env(self):
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("AWS_") and k != "INITIAL_NO_AUTH_ACTION_COUNT"}
        env.update(AWS_ENDPOINT_URL=self.endpoint, AWS_ACCESS_KEY_ID="testing",
                   AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION=REGION,
                   AWS_EC2_METADATA_DISABLED="true", AWS_CONFIG_FILE="/dev/null",
                   AWS_SHARED_CREDENTIALS_FILE="/dev/null",
                   # hoist's local hash cache: this emulator's own, not the user's
                   XDG_CACHE_HOME=os.path.join(self.tmp, "cache"))
        return env

    def start(self):
        if self.runtime == "docker":
            self.docker_host = docker_engine()
        self.moto_log = open(os.path.join(self.tmp, "moto.log"), "wb")
        self.moto = subprocess.Popen(moto_keepalive.SERVERS[self.server] + ["-H", "127.0.0.1", "-p", str(self.port)]
                                     + self.server_args,
                                     stdout=self.moto_log, stderr=subprocess.STDOUT,
                                     start_new_session=True, env=self.base_env())
        deadline = time.time() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                if time.time() > deadline or self.moto.poll() is not None:
                    raise RuntimeError("moto_server did not start")
                time.sleep(0.2)
        self.use_keys("testing", "testing")
        if self.want_runner:
            self.start_runner()
        return self

    def traffic(self):
        """(TCP connections accepted, requests answered) so far; only the
        keepalive server logs its connections."""
        self.moto_log.flush()
        with open(os.path.join(self.tmp, "moto.log"), errors="replace") as f:
            text = f.read()
        return (moto_keepalive.connections_in(text),
                sum(1 for line in text.splitlines() if '] "' in line and " HTTP/1." in line))

    def use_keys(self, access_key, secret_key):
        """The boto3 clients that check outcomes, signing with these keys."""
        kw = dict(endpoint_url=self.endpoint, region_name=REGION,
                  aws_access_key_id=access_key, aws_secret_access_key=secret_key)
        self.s3 = boto3.client("s3", **kw)
        self.ec2 = boto3.client("ec2", **kw)
        self.ecr = boto3.client("ecr", **kw)
        self.iam = boto3.client("iam", **kw)

    def start_runner(self, imds=False, **env):
        """The host runner; `env` overrides its environment (the instance's keys).
        With the docker runtime the registry starts first, acting on the
        emulated ECR with the runner's keys (HOIST_RUNNER_ACCESS_KEY_ID...).
        With `imds`, its IMDS stand-in answers each instance (spot_notice)."""
        renv = dict(self.base_env(), HOIST_POLL_SECONDS="0.5", HOIST_KILL_GRACE="3",
                    HOIST_WATCHDOG_GRACE="30", **env)
        cmd = [sys.executable, os.path.join(ROOT, "tools", "hostrunner.py"), "--endpoint-url",
               self.endpoint, "--region", REGION, "--root", self.host_root, "--poll", "0.3",
               "--log", os.path.join(self.tmp, "runner.log"), "--runtime", self.runtime]
        if imds:
            cmd += ["--imds-port", "0"]
        if self.runtime == "docker":
            if self._registry is None:
                self.start_registry(env.get("HOIST_RUNNER_ACCESS_KEY_ID", "testing"),
                                    env.get("HOIST_RUNNER_SECRET_ACCESS_KEY", "testing"))
            cmd += ["--docker-host", self.docker_host, "--registry", self._registry]
        self.runner = subprocess.Popen(cmd, env=renv, start_new_session=True,
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    # ---- the account's container registry (tools/ecr_registry.py) ----
    def start_registry(self, access_key="testing", secret_key="testing", timeout=60):
        """Starts this Emulator's registry; its calls to the emulated ECR sign
        with these keys (they must be valid once enforce_iam is on)."""
        state = os.path.join(self.tmp, "registry")
        os.makedirs(state, exist_ok=True)
        portfile = os.path.join(state, "port")
        with contextlib.suppress(OSError):
            os.unlink(portfile)
        renv = dict(self.base_env(), HOIST_REGISTRY_ACCESS_KEY_ID=access_key,
                    HOIST_REGISTRY_SECRET_ACCESS_KEY=secret_key)
        with open(os.path.join(state, "front.err"), "wb") as err:
            self.registry_proc = subprocess.Popen(
                [sys.executable, os.path.join(ROOT, "tools", "ecr_registry.py"), "--moto-endpoint",
                 self.endpoint, "--region", REGION, "--state", state, "--portfile", portfile],
                env=renv, start_new_session=True, stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL, stderr=err)
        deadline = time.time() + timeout
        while not os.path.exists(portfile):
            if self.registry_proc.poll() is not None or time.time() > deadline:
                with open(os.path.join(state, "front.err"), errors="replace") as f:
                    raise RuntimeError("tools/ecr_registry.py did not start: %s" % f.read()[-2000:])
            time.sleep(0.1)
        with open(portfile) as f:
            self._registry = "127.0.0.1:%s" % f.read().strip()
        return self._registry

    @property
    def registry(self):
        """The registry's "127.0.0.1:PORT" (started now if it is not yet)."""
        if self._registry is None:
            self.start_registry()
        return self._registry

    def registry_auth(self):
        """The Authorization header value ECR's token gives (Basic AWS:<password>)."""
        return "Basic " + self.ecr.get_authorization_token()["authorizationData"][0]["authorizationToken"]

    def registry_get(self, path, method="GET", headers=None, auth=True, body=None):
        """(status, headers, body) of a request to the registry's HTTP API,
        e.g. registry_get("/v2/<repo>/manifests/<tag>"), independent of hoist
        and of Docker, with ECR's Basic auth (auth=False: none). Manifests are
        asked for in every schema hoist may push; headers are lowercase."""
        h = {"Accept": ", ".join(MANIFEST_TYPES)}
        if auth:
            h["Authorization"] = self.registry_auth()
        h.update(headers or {})
        host, port = self.registry.rsplit(":", 1)
        c = http.client.HTTPConnection(host, int(port), timeout=60)
        try:
            c.request(method, path, body=body, headers=h)
            r = c.getresponse()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
        finally:
            c.close()

    def docker_env(self):
        """The environment for the docker CLI: the engine, and a config dir of
        this Emulator's own (docker login's credentials stay in it)."""
        env = dict(self.base_env(), DOCKER_HOST=self.docker_host or docker_engine(),
                   DOCKER_CONFIG=os.path.join(self.tmp, "docker-config"))
        return env

    def docker(self, *args, input=None, timeout=600):
        """Runs the docker CLI against the engine; CompletedProcess (text)."""
        return subprocess.run(["docker"] + [str(a) for a in args], env=self.docker_env(),
                              input=input, capture_output=True, text=True, timeout=timeout,
                              stdin=None if input is not None else subprocess.DEVNULL)

    def registry_auth_password(self):
        """The password `docker login --username AWS` takes (ECR's token's)."""
        return base64.b64decode(self.registry_auth().split()[1]).decode().split(":", 1)[1]

    def docker_login(self):
        return self.docker("login", "--username", "AWS", "--password-stdin", self.registry,
                           input=self.registry_auth_password())

    def enforce_iam(self):
        """From now on moto checks every request's signature and IAM policies."""
        import urllib.request
        urllib.request.urlopen(urllib.request.Request(
            self.endpoint + "/moto-api/reset-auth", data=b"0", method="POST",
            headers={"Content-Type": "text/plain"}), timeout=30).read()

    def remove_images(self, *registries):
        """Drops every image reference to these registries (default this
        Emulator's) from the shared engine: repo:tag and repo@digest."""
        registries = registries or ((self._registry,) if self._registry else ())
        out = self.docker("images", "--digests", "--format", "{{.Repository}} {{.Tag}} {{.Digest}}").stdout
        refs = []
        for parts in (line.split() for line in out.splitlines()):
            if len(parts) == 3 and any(parts[0].startswith(r + "/") for r in registries):
                refs += ([parts[0] + ":" + parts[1]] if parts[1] != "<none>" else []) + \
                    ([parts[0] + "@" + parts[2]] if parts[2] != "<none>" else [])
        if refs:
            self.docker("rmi", *refs)

    def stop(self):
        for p in (self.runner, self.registry_proc, self.moto):
            if p is None:
                continue
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, signal.SIGTERM)
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(p.pid, signal.SIGKILL)
                p.wait()
        with contextlib.suppress(AttributeError):
            self.moto_log.close()
        if self.runtime == "docker" and self._registry:
            with contextlib.suppress(Exception):  # the runner's end did it, unless there was none
                self.remove_images()

    def reset(self):
        """Empties the emulated account (moto's reset API)."""
        import urllib.request
        urllib.request.urlopen(urllib.request.Request(self.endpoint + "/moto-api/reset",
                                                      method="POST"), timeout=30).read()

    # ---- hoist ----
    def hoist_cmd(self, *args):
        return [find_hoist()] + [str(a) for a in args]

    def hoist(self, *args, timeout=240, cwd=None, env=None):
        """Runs hoist to completion; returns CompletedProcess (text). `env`
        overrides the environment (other keys, say)."""
        return subprocess.run(self.hoist_cmd(*args), env=dict(self.base_env(), **(env or {})),
                              cwd=cwd or self.tmp,
                              capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL)

    def hoist_bg(self, *args, cwd=None):
        """Starts hoist in the background; returns a BackgroundHoist."""
        return BackgroundHoist(self.hoist_cmd(*args), self.base_env(), cwd or self.tmp)

    def spot_notice(self, instance_id):
        """The two-minute spot interruption notice, for that instance only
        (the runner's IMDS stand-in: start_runner(imds=True))."""
        subprocess.check_call([sys.executable, os.path.join(ROOT, "tools", "hostrunner.py"),
                               "--root", self.host_root, "--spot-notice", instance_id])

    # ---- what AWS holds (independent of hoist) ----
    def job_instances(self, job_id):
        r = self.ec2.describe_instances(Filters=[{"Name": "tag:hoist:job", "Values": [job_id]}])
        return [i for res in r["Reservations"] for i in res["Instances"]]

    def live_hoist_instances(self):
        r = self.ec2.describe_instances(Filters=[
            {"Name": "tag:hoist:managed", "Values": ["true"]},
            {"Name": "instance-state-name", "Values": ["pending", "running", "stopping", "stopped"]}])
        return [i["InstanceId"] for res in r["Reservations"] for i in res["Instances"]]

    def wait_instances_terminated(self, job_id, timeout=60):
        """The job's instances (at least one), once all are terminated; else
        their states after the timeout."""
        deadline = time.time() + timeout
        while True:
            insts = self.job_instances(job_id)
            states = [i["State"]["Name"] for i in insts]
            if (insts and all(s == "terminated" for s in states)) or time.time() > deadline:
                return states
            time.sleep(0.5)

    def get_json(self, key, bucket=BUCKET):
        import json
        try:
            return json.loads(self.s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        except self.s3.exceptions.NoSuchKey:
            return None

    def status(self, job_id):
        return self.get_json("jobs/%s/status.json" % job_id)

    def wait_phase(self, job_id, phases, timeout=90):
        deadline = time.time() + timeout
        while time.time() < deadline:
            st = self.status(job_id)
            if st and st.get("phase") in phases:
                return st
            time.sleep(0.5)
        return self.status(job_id)

    def objects(self, bucket, prefix):
        """{key minus prefix: bytes} under prefix."""
        out = {}
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for o in page.get("Contents", []):
                out[o["Key"][len(prefix):]] = self.s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read()
        return out

    def listing(self, bucket, prefix):
        """{key: (ETag, LastModified, Size)} under prefix."""
        out = {}
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for o in page.get("Contents", []):
                out[o["Key"]] = (o["ETag"], o["LastModified"], o["Size"])
        return out

    def snapshot(self):
        """Everything hoist could create, for 'nothing was created' checks."""
        buckets = sorted(b["Name"] for b in self.s3.list_buckets().get("Buckets", []))
        objects = {b: sorted(self.listing(b, "")) for b in buckets}
        insts = sorted(i["InstanceId"] for res in self.ec2.describe_instances()["Reservations"]
                       for i in res["Instances"])
        repos = sorted(r["repositoryName"] for r in self.ecr.describe_repositories()["repositories"])
        roles = sorted(r["RoleName"] for r in self.iam.list_roles()["Roles"])
        profiles = sorted(p["InstanceProfileName"]
                          for p in self.iam.list_instance_profiles()["InstanceProfiles"])
        return {"buckets": buckets, "objects": objects, "instances": insts, "repositories": repos,
                "roles": roles, "instance_profiles": profiles}

    def diagnostics(self, job_id=None):
        """Runner log and the job's instance logs, for failure messages."""
        parts = []
        with contextlib.suppress(OSError):
            with open(os.path.join(self.tmp, "runner.log"), errors="replace") as f:
                parts.append("--- runner.log (tail)\n" + f.read()[-3000:])
        with contextlib.suppress(OSError):
            with open(os.path.join(self.tmp, "registry", "front.log"), errors="replace") as f:
                parts.append("--- registry/front.log (tail)\n" + f.read()[-2000:])
        if job_id:
            for i in self.job_instances(job_id):
                p = os.path.join(self.host_root, i["InstanceId"] + ".log")
                with contextlib.suppress(OSError):
                    with open(p, errors="replace") as f:
                        parts.append("--- %s (tail)\n%s" % (p, f.read()[-4000:]))
        return "\n".join(parts)


def release(emu, tmp):
    """A test class's end: the emulator stopped, its folder removed (kept,
    and named, with HOIST_KEEP_TMP=1)."""
    emu.stop()
    if os.environ.get("HOIST_KEEP_TMP"):
        print("kept", tmp)
    else:
        shutil.rmtree(tmp, ignore_errors=True)


class CutProxy:
    """A TCP proxy to a local port whose line can be cut, as a laptop's is
    when its network goes: while cut, connections are refused and the open
    ones are dropped; restore() brings it back on the same port."""

    def __init__(self, target_port):
        self.target = target_port
        self.port = free_port()
        self.lock = threading.Lock()
        self.conns = set()
        self.listener = None
        self.restore()

    @property
    def endpoint(self):
        return "http://127.0.0.1:%d" % self.port

    def restore(self):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", self.port))
        s.listen(64)
        self.listener = s
        threading.Thread(target=self._accept, args=(s,), daemon=True).start()

    def cut(self):
        with self.lock:
            listener, self.listener = self.listener, None
            conns, self.conns = self.conns, set()
        listener.close()
        for c in conns:
            with contextlib.suppress(OSError):
                c.shutdown(socket.SHUT_RDWR)
            c.close()

    def close(self):
        if self.listener is not None:
            self.cut()

    def _accept(self, listener):
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # cut
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target))
            except OSError:
                client.close()
                continue
            with self.lock:
                self.conns.update((client, upstream))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src, dst):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        with contextlib.suppress(OSError):
            dst.shutdown(socket.SHUT_WR)


class BackgroundHoist:
    """A hoist process in the background, its stdout/stderr collected by threads."""

    def __init__(self, cmd, env, cwd):
        self.t0 = time.time()
        self.proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
                                     start_new_session=True)
        self.out, self.err = [], []
        self.ended = None  # time.time() when the process exited
        self.threads = [threading.Thread(target=self._pump, args=(s, buf), daemon=True)
                        for s, buf in ((self.proc.stdout, self.out), (self.proc.stderr, self.err))]
        self.threads.append(threading.Thread(target=self._reap, daemon=True))
        for t in self.threads:
            t.start()

    def _reap(self):
        self.proc.wait()
        self.ended = time.time()

    @staticmethod
    def _pump(stream, buf):
        for line in stream:
            buf.append(line)

    @property
    def stdout(self):
        return "".join(self.out)

    @property
    def stderr(self):
        return "".join(self.err)

    def wait_stderr(self, needle, timeout=120):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if needle in self.stderr:
                return True
            if self.proc.poll() is not None:
                for t in self.threads:
                    t.join(5)
                return needle in self.stderr
            time.sleep(0.2)
        return False

    def wait(self, timeout=240):
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise
        for t in self.threads:
            t.join(10)
        return rc

    def result(self, timeout=240):
        """Waits; returns a subprocess.CompletedProcess like Emulator.hoist."""
        rc = self.wait(timeout)
        return subprocess.CompletedProcess(self.proc.args, rc, self.stdout, self.stderr)

    def kill(self):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
