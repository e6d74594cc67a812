#!/usr/bin/env python3
"""hoist host runner: the local stand-in for EC2 (DESIGN B3).

Watches an emulated EC2 (moto) for instances tagged hoist:managed=true, runs
each one's user data locally with bash (plain or gzip), with the B3 variables,
and terminates the instance through the EC2 API when the script exits or asks
to power off.  An instance terminated through the API (hoist cancel) has its
script's whole session killed.

  python3 tools/hostrunner.py --endpoint-url http://127.0.0.1:PORT \
      [--region us-east-1] [--root DIR] [--poll 0.5] [--pidfile F] [--log F] \
      [--imds-port N] [--runtime docker|process] [--docker-host H] \
      [--registry 127.0.0.1:PORT] [--disk-mib N]
  python3 tools/hostrunner.py --root DIR --spot-notice INSTANCE_ID

--runtime docker (the default) gives each instance DOCKER_HOST (--docker-host,
default $DOCKER_HOST: scripts/containers.sh engine prints it) and
HOIST_REGISTRY (--registry, default $HOIST_REGISTRY: tools/ecr_registry.py),
and a Docker config dir of its own under its root (its `docker login` is its
own, as on a machine of its own); when the instance ends, containers labelled
hoist.instance=<its id> are removed, as the machine's end would, and when the
runner ends, the images tagged with the registry's name. --runtime
process sets HOIST_RUNTIME=process instead (where no engine can run).
HOIST_DOCKER_NETWORK, when the runner has it, reaches every instance.

With --disk-mib N (default $HOIST_RUNNER_DISK_MIB) each instance's root
(HOIST_HOST_ROOT) is a tmpfs of N MiB of its own, mounted before its user
data runs and unmounted when it ends: a small disk a test can fill (root
only).

With --imds-port (0 = any free port) a local IMDS stub (tools/imds_stub.py) is
served and each instance gets AWS_EC2_METADATA_SERVICE_ENDPOINT; `--spot-notice
ID` lists ID in DIR/spot-notices so that instance sees a spot interruption.
"""
import argparse
import base64
import gzip
import logging
import os
import shlex
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

LOG = logging.getLogger("hostrunner")


def session_pids(sid):
    """Pids of every live process in session sid (Linux /proc)."""
    pids = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name) as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2:].split()
        # fields[0] is state; session id is field 6 of stat => index 3 here
        if len(fields) > 3 and fields[3] == str(sid) and fields[0] != "Z":
            pids.append(int(name))
    return pids


def kill_session(sid, grace=2.0):
    for sig in (signal.SIGTERM, signal.SIGKILL):
        pids = session_pids(sid)
        if not pids:
            return
        for p in pids:
            try:
                os.kill(p, sig)
            except OSError:
                pass
        deadline = time.time() + grace
        while time.time() < deadline and session_pids(sid):
            time.sleep(0.05)


# The keys the runner and the instances it plays use: the emulator's
# "testing", unless a test that makes moto check IAM gives others. Never the
# caller's own AWS_ACCESS_KEY_ID, which may be a real key.
RUNNER_KEY = (os.environ.get("HOIST_RUNNER_ACCESS_KEY_ID", "testing"),
              os.environ.get("HOIST_RUNNER_SECRET_ACCESS_KEY", "testing"))


class Runner:
    def __init__(self, args):
        import boto3  # imported here so --spot-notice works without it
        self.args = args
        self.root = os.path.abspath(args.root)
        os.makedirs(self.root, exist_ok=True)
        self.ec2 = boto3.client("ec2", endpoint_url=args.endpoint_url, region_name=args.region,
                                aws_access_key_id=RUNNER_KEY[0], aws_secret_access_key=RUNNER_KEY[1])
        self.docker = args.runtime == "docker"
        if self.docker:
            if not args.registry:
                LOG.warning("docker runtime without --registry: instances get no HOIST_REGISTRY")
            if self.docker_cli("info", timeout=30) is None:
                LOG.warning("no Docker engine answers at %s (scripts/containers.sh engine starts one)",
                            args.docker_host or "the default socket")
        self.running = {}  # instance id -> Popen
        self.seen = set()
        self.stop = threading.Event()
        self.imds_endpoint = None
        if args.imds_port is not None:
            import imds_stub
            srv = imds_stub.start(args.imds_port, os.path.join(self.root, "spot-notices"))
            self.imds_endpoint = "http://127.0.0.1:%d" % srv.server_port
            LOG.info("IMDS stub on %s", self.imds_endpoint)

    def docker_cli(self, *args, timeout=60):
        """The docker CLI's stdout against the instances' engine; None on failure."""
        env = dict(os.environ)
        if self.args.docker_host:
            env["DOCKER_HOST"] = self.args.docker_host
        try:
            p = subprocess.run(["docker"] + list(args), env=env, capture_output=True, text=True,
                               timeout=timeout, stdin=subprocess.DEVNULL)
        except (OSError, subprocess.TimeoutExpired) as e:
            LOG.warning("docker %s: %s", " ".join(args), e)
            return None
        if p.returncode != 0:
            LOG.warning("docker %s: %s", " ".join(args), p.stderr.strip()[-300:])
            return None
        return p.stdout

    def remove_containers(self, iid):
        """The end of the machine ends its containers (those labelled with its id)."""
        out = self.docker_cli("ps", "-aq", "--filter", "label=hoist.instance=" + iid)
        ids = (out or "").split()
        if ids and self.docker_cli("rm", "-f", *ids) is not None:
            LOG.info("%s: removed %d container(s)", iid, len(ids))

    def remove_registry_images(self):
        """The runner's end is its machines' end: the engine forgets the
        images they built or pulled from this registry (by ref, so an image
        that another registry's name also tags stays)."""
        if not self.args.registry:
            return
        out = self.docker_cli("images", "--digests", "--format", "{{.Repository}} {{.Tag}} {{.Digest}}")
        refs = []
        for line in (out or "").splitlines():
            parts = line.split()
            if len(parts) != 3 or not parts[0].startswith(self.args.registry + "/"):
                continue
            repo, tag, digest = parts
            refs += ([repo + ":" + tag] if tag != "<none>" else []) + \
                ([repo + "@" + digest] if digest != "<none>" else [])
        if refs:
            self.docker_cli("rmi", *refs)
            LOG.info("removed %d image reference(s) to %s", len(refs), self.args.registry)

    def describe(self, filters=None, ids=None):
        kw = {}
        if filters:
            kw["Filters"] = filters
        if ids:
            kw["InstanceIds"] = ids
        out = []
        for page in self.ec2.get_paginator("describe_instances").paginate(**kw):
            for r in page["Reservations"]:
                out.extend(r["Instances"])
        return out

    def user_data(self, iid):
        attr = self.ec2.describe_instance_attribute(InstanceId=iid, Attribute="userData")
        value = (attr.get("UserData") or {}).get("Value") or ""
        data = base64.b64decode(value) if value else b""
        if data[:2] == b"\x1f\x8b":
            data = gzip.decompress(data)
        return data

    def start(self, inst):
        iid = inst["InstanceId"]
        self.seen.add(iid)
        data = self.user_data(iid)
        script = os.path.join(self.root, iid + ".userdata")
        with open(script, "wb") as f:
            f.write(data)
        marker = os.path.join(self.root, iid + ".shutdown")
        host_root = os.path.join(self.root, iid)
        os.makedirs(host_root, exist_ok=True)
        if self.args.disk_mib:
            self.mount_disk(iid, host_root)
        env = dict(os.environ)
        for k in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_CONFIG_FILE",
                  "AWS_SHARED_CREDENTIALS_FILE", "AWS_EC2_METADATA_SERVICE_ENDPOINT"):
            env.pop(k, None)
        env.update({
            "AWS_ENDPOINT_URL": self.args.endpoint_url,
            "AWS_ACCESS_KEY_ID": RUNNER_KEY[0],
            "AWS_SECRET_ACCESS_KEY": RUNNER_KEY[1],
            "AWS_DEFAULT_REGION": self.args.region,
            "HOIST_INSTANCE_ID": iid,
            "HOIST_HOST_ROOT": host_root,
            "HOIST_SHUTDOWN_CMD": "touch %s" % shlex.quote(marker),
        })
        if self.docker:
            env.pop("HOIST_RUNTIME", None)
            if self.args.docker_host:
                env["DOCKER_HOST"] = self.args.docker_host
            # root's ~/.docker on the instance's own disk
            env["DOCKER_CONFIG"] = os.path.join(host_root, "root", ".docker")
            # The engine here has no bridge: "none" gives containers the same
            # loopback-only network without Docker's "IPv4 forwarding is
            # disabled" warning in every job's output.
            env.setdefault("HOIST_DOCKER_NETWORK", "none")
        else:
            env["HOIST_RUNTIME"] = "process"
            env.pop("DOCKER_HOST", None)
        if self.args.registry:
            env["HOIST_REGISTRY"] = self.args.registry
        # No GPU on this host: a GPU job learns so in seconds, not minutes.
        env.setdefault("HOIST_GPU_WAIT", "5")
        if self.imds_endpoint:
            env["AWS_EC2_METADATA_SERVICE_ENDPOINT"] = "%s/%s" % (self.imds_endpoint, iid)
        out = open(os.path.join(self.root, iid + ".log"), "ab")
        proc = subprocess.Popen(["bash", script], env=env, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, cwd=host_root, start_new_session=True)
        out.close()
        self.running[iid] = proc
        LOG.info("%s: started (pid %d, %d bytes of user data)", iid, proc.pid, len(data))

    def mount_disk(self, iid, host_root):
        """The instance's disk: a tmpfs of --disk-mib MiB at its root."""
        p = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%dm,mode=755" % self.args.disk_mib,
                            "hoist-disk-" + iid, host_root], capture_output=True, text=True,
                           stdin=subprocess.DEVNULL)
        if p.returncode != 0:
            raise RuntimeError("cannot mount a %d MiB tmpfs at %s: %s (--disk-mib needs root)"
                               % (self.args.disk_mib, host_root, p.stderr.strip()))
        LOG.info("%s: a %d MiB disk at %s", iid, self.args.disk_mib, host_root)

    def unmount_disk(self, iid):
        host_root = os.path.join(self.root, iid)
        if not os.path.ismount(host_root):
            return
        # lazily if something still holds it: the disk goes with the machine
        for cmd in (["umount", host_root], ["umount", "-l", host_root]):
            if subprocess.run(cmd, capture_output=True, stdin=subprocess.DEVNULL).returncode == 0:
                return
        LOG.warning("%s: could not unmount %s", iid, host_root)

    def finish(self, iid, why, terminate=True):
        proc = self.running.pop(iid)
        kill_session(proc.pid)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        LOG.info("%s: %s (exit %s)", iid, why, proc.returncode)
        if self.docker:
            self.remove_containers(iid)
        if self.args.disk_mib:
            self.unmount_disk(iid)
        if terminate:
            try:
                self.ec2.terminate_instances(InstanceIds=[iid])
            except Exception as e:  # noqa: BLE001
                LOG.warning("%s: terminate failed: %s", iid, e)

    def tick(self):
        insts = self.describe(filters=[
            {"Name": "tag:hoist:managed", "Values": ["true"]},
            {"Name": "instance-state-name", "Values": ["pending", "running"]}])
        live = {i["InstanceId"] for i in insts}
        for inst in insts:
            if inst["InstanceId"] not in self.seen:
                try:
                    self.start(inst)
                except Exception as e:  # noqa: BLE001
                    LOG.exception("%s: could not start: %s", inst["InstanceId"], e)
        for iid in list(self.running):
            proc = self.running[iid]
            if iid not in live:
                self.finish(iid, "terminated through the API: script killed", terminate=False)
            elif os.path.exists(os.path.join(self.root, iid + ".shutdown")):
                self.finish(iid, "powered off")
            elif proc.poll() is not None:
                self.finish(iid, "user data exited")

    def loop(self):
        LOG.info("watching %s (root %s, runtime %s%s)", self.args.endpoint_url, self.root,
                 self.args.runtime, ", engine %s, registry %s" % (self.args.docker_host, self.args.registry)
                 if self.docker else "")
        while not self.stop.is_set():
            try:
                self.tick()
            except Exception as e:  # noqa: BLE001 - the emulator may be restarting
                LOG.warning("poll failed: %s", e)
            self.stop.wait(self.args.poll)
        for iid in list(self.running):
            self.finish(iid, "host runner stopping")
        if self.docker:
            self.remove_registry_images()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--endpoint-url", default=os.environ.get("AWS_ENDPOINT_URL"))
    ap.add_argument("--region", default=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"))
    ap.add_argument("--root", default=os.path.join(os.getcwd(), ".hoist-host"))
    ap.add_argument("--poll", type=float, default=0.5)
    ap.add_argument("--pidfile")
    ap.add_argument("--log")
    ap.add_argument("--imds-port", type=int, default=None)
    ap.add_argument("--spot-notice", metavar="INSTANCE_ID")
    ap.add_argument("--runtime", choices=("docker", "process"), default="docker",
                    help="how instances run their job (default docker)")
    ap.add_argument("--docker-host", default=os.environ.get("DOCKER_HOST"),
                    help="the instances' engine (default $DOCKER_HOST)")
    ap.add_argument("--registry", default=os.environ.get("HOIST_REGISTRY"),
                    help="the account's registry, host:port (default $HOIST_REGISTRY)")
    ap.add_argument("--disk-mib", type=int, default=int(os.environ.get("HOIST_RUNNER_DISK_MIB") or 0),
                    help="give each instance a tmpfs of this many MiB as its disk (root only)")
    args = ap.parse_args()
    if args.spot_notice:
        os.makedirs(args.root, exist_ok=True)
        with open(os.path.join(args.root, "spot-notices"), "a") as f:
            f.write(args.spot_notice + "\n")
        return 0
    if not args.endpoint_url:
        ap.error("--endpoint-url (or AWS_ENDPOINT_URL) is required")
    logging.basicConfig(filename=args.log, level=logging.INFO,
                        format="%(asctime)s hostrunner %(message)s")
    if args.pidfile:
        with open(args.pidfile, "w") as f:
            f.write(str(os.getpid()))
    runner = Runner(args)

    def on_signal(signum, frame):
        runner.stop.set()
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        runner.loop()
    finally:
        if args.pidfile:
            try:
                os.unlink(args.pidfile)
            except OSError:
                pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
