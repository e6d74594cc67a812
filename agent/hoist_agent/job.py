"""The job on the instance: status, staging, the image, the script, outputs."""
import concurrent.futures
import json
import os
import shutil
import signal
import subprocess
import sys
import time

from hoist_agent import container, gpu, notify, outputs, record, successor
from hoist_agent import image as images
from hoist_agent.aws import IMDS, KILL_GRACE, POLL, THREADS, AwsError, Ecr, S3
from hoist_agent.checkpoint import Checkpoint
from hoist_agent.record import TERMINAL
from hoist_agent.util import (Abort, disk_full_hint, iso_to_epoch, log, make_read_only, now_iso,
                              parse_s3, run_logged, safe_join, save_state)

# How long a successor waits for its predecessor to name it in status.json
# before it goes on as the attempt announced.
HANDOVER_WAIT = float(os.environ.get("HOIST_HANDOVER_WAIT", "120"))


class Job:
    def __init__(self):
        self.bucket = os.environ["HOIST_BUCKET"]
        self.job_id = os.environ["HOIST_JOB_ID"]
        self.region = os.environ.get("HOIST_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
        self.work = os.environ["HOIST_WORK"]
        self.prefix = record.prefix(self.job_id)
        self.s3 = S3(self.region)
        self.state = os.path.join(self.work, "state")
        for d in ("state", "logs"):
            os.makedirs(os.path.join(self.work, d), exist_ok=True)
        self.code = os.path.join(self.work, "code")
        self.input = os.path.join(self.work, "input")
        self.output = os.path.join(self.work, "output")
        self.venv = os.path.join(self.work, "venv")
        self.job_log = os.path.join(self.work, "logs", "job.log")
        self.bootstrap_log = os.environ.get("HOIST_BOOTSTRAP_LOG") or os.path.join(
            self.work, "logs", "bootstrap.log")
        self.status_file = os.path.join(self.state, "status.json")
        self.record = None  # this process's status.json, whether or not the disk took it
        self.spec = None
        self.proc = None
        self.container = None
        self.docker = None
        self.image_ref = None
        self.log_offset = 0
        self.log_chunk = 0
        self.attempt = 1
        self.spot = False
        self.zone = None
        self.checkpoint = None  # a Checkpoint, with --checkpoint
        self.checkpoint_folder = os.path.join(self.work, "checkpoint")
        self.next_save = None
        self.instance_id = os.environ.get("HOIST_INSTANCE_ID") or IMDS.get(
            "/latest/meta-data/instance-id")

    # ---- status ----
    def load_status(self):
        try:
            with open(self.status_file) as f:
                return json.load(f)
        except (OSError, ValueError):
            return None

    def status(self, phase, **fields):
        """Writes phase (and fields) to status.json in S3, from memory: the
        local copy (state/status.json, for the agent's next command) is kept
        when the disk takes it."""
        st = self.record if self.record is not None else (self.load_status() or {})
        self.record = st
        st.setdefault("phases", {})
        st.update({"job_id": self.job_id, "instance_id": self.instance_id})
        for field in record.STATUS_FIELDS:
            st.setdefault(field, None)
        st.update(fields)
        ts = now_iso()
        st["phase"] = phase
        st["updated_at"] = ts
        st["phases"][phase] = ts
        body = json.dumps(st, indent=1).encode()
        save_state(self.status_file, body)
        log("phase %s%s" % (phase, (": " + st["error"]) if st.get("error") else ""))
        self.s3.put_bytes(self.bucket, self.prefix + record.STATUS, body, "application/json")
        self.upload_bootstrap_log()
        return st

    def upload_bootstrap_log(self):
        try:
            with open(self.bootstrap_log, "rb") as f:
                data = f.read()
        except OSError:
            return
        try:
            self.s3.put_bytes(self.bucket, self.prefix + record.BOOTSTRAP_LOG, data, "text/plain")
        except Exception as e:  # noqa: BLE001 - the log is best effort
            log("bootstrap.log upload failed: %s" % e)

    def terminal_written(self):
        """Whether a terminal status was written: the local copy says so, or
        (the disk may not have taken it) S3's."""
        st = self.load_status()
        if st and (st.get("phase") in TERMINAL or handed_over(st)):
            return True
        try:
            remote = json.loads(self.s3.get_bytes(self.bucket, self.prefix + record.STATUS) or b"{}")
        except (AwsError, ValueError, OSError) as e:
            log("status.json could not be read from S3: %s" % e)
            return False
        return remote.get("phase") in TERMINAL or handed_over(remote)

    # ---- init ----
    def init(self):
        remote = self.s3.get_bytes(self.bucket, self.prefix + record.STATUS)
        st = {}
        if remote:
            try:
                st = json.loads(remote)
            except ValueError:
                st = {}
        if self.load_status() is None:
            self.record = self.first_record(self.await_turn(st))
        self.status("booting")
        data = self.s3.get_bytes(self.bucket, self.prefix + record.SPEC)
        if data is None:
            raise RuntimeError("s3://%s/%sjob.json does not exist" % (self.bucket, self.prefix))
        spec = json.loads(data)
        with open(os.path.join(self.state, "job.json"), "wb") as f:
            f.write(data)
        print(self.seconds_left(spec))

    def await_turn(self, st):
        """A successor's first look at the record: while its predecessor has
        not yet named it (its RunInstances answer comes a moment after this
        instance may boot), it waits, so that the predecessor's last write
        never lands after this attempt's first."""
        deadline = time.monotonic() + HANDOVER_WAIT
        while st.get("phase") == "interrupted" and not named(st, self.instance_id):
            if time.monotonic() > deadline:
                log("not named as the successor after %.0fs: going on as attempt %s"
                    % (HANDOVER_WAIT, st.get("next_attempt")))
                break
            time.sleep(min(2.0, POLL))
            try:
                st = json.loads(self.s3.get_bytes(self.bucket, self.prefix + record.STATUS) or b"{}")
            except ValueError:
                continue
        return st

    def first_record(self, st):
        """This attempt's record: the laptop's launching one for the first,
        its predecessor's history for a successor (its phases start anew)."""
        if st.get("phase") != "interrupted":
            t0 = os.environ.get("HOIST_T0")
            started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(t0))) if t0 else now_iso()
            return {"phases": st.get("phases") or {}, "attempt": 1, "attempts": [], "started_at": started}
        nxt = st.get("successor") if named(st, self.instance_id) else {}
        nxt = nxt or {}
        return {"phases": {}, "attempt": int(nxt.get("attempt") or st.get("next_attempt") or 2),
                "attempts": st.get("attempts") or [], "started_at": st.get("started_at"),
                "log_chunks": st.get("log_chunks") or 0, "spot": nxt.get("spot"),
                "zone": nxt.get("zone"), "checkpoint": st.get("checkpoint")}

    def seconds_left(self, spec):
        """What is left of the job's max runtime, counted from the first
        attempt's start (a successor has only what its predecessors left)."""
        limit = int(spec.get("max_runtime_seconds") or 14400)
        started = iso_to_epoch((self.record or {}).get("started_at"))
        if started is None:
            return limit
        return max(1, int(limit - (time.time() - started)))

    def load_spec(self):
        with open(os.path.join(self.state, "job.json"), "rb") as f:
            self.spec = json.loads(f.read())
        return self.spec

    # ---- abort checks ----
    def check_abort(self):
        if self.s3.exists(self.bucket, self.prefix + record.CANCEL):
            raise Abort("cancelled", "cancelled by request (jobs/%s/cancel)" % self.job_id)
        notice = IMDS.get("/latest/meta-data/spot/instance-action")
        if notice:
            raise Abort("preempted", "spot interruption notice: %s" % notice.strip())

    # ---- staging ----
    def fetch_manifest(self, manifest, dest):
        os.makedirs(dest, exist_ok=True)
        by_sha = {}
        for rel, ent in sorted(manifest.items()):
            target = safe_join(dest, rel)
            by_sha.setdefault(ent["sha256"], []).append((target, ent))

        def fetch(sha):
            targets = by_sha[sha]
            first, ent = targets[0]
            os.makedirs(os.path.dirname(first), exist_ok=True)
            n = self.s3.download(self.bucket, "blobs/sha256/" + sha, first, sha256=sha,
                                 size=ent.get("size"))
            os.chmod(first, int(ent.get("mode", 0o644)) & 0o7777)
            for t, e in targets[1:]:
                os.makedirs(os.path.dirname(t), exist_ok=True)
                shutil.copyfile(first, t)
                os.chmod(t, int(e.get("mode", 0o644)) & 0o7777)
            return n * len(targets)
        total = 0
        with concurrent.futures.ThreadPoolExecutor(THREADS) as ex:
            for n in ex.map(fetch, list(by_sha)):
                total += n
        return total

    def fetch_s3_prefix(self, uri, dest):
        bucket, prefix = parse_s3(uri)
        os.makedirs(dest, exist_ok=True)
        items = [(k, s) for k, s in self.s3.list(bucket, prefix) if not k.endswith("/")]

        def fetch(item):
            key, size = item
            target = safe_join(dest, key[len(prefix):])
            os.makedirs(os.path.dirname(target), exist_ok=True)
            return self.s3.download(bucket, key, target, size=size)
        with concurrent.futures.ThreadPoolExecutor(THREADS) as ex:
            return sum(ex.map(fetch, items))

    def stage(self):
        spec = self.spec
        n = self.fetch_manifest(spec.get("code") or {}, self.code)
        log("code: %d files, %d bytes" % (len(spec.get("code") or {}), n))
        if spec.get("input_s3"):
            n = self.fetch_s3_prefix(spec["input_s3"], self.input)
            log("inputs from %s: %d bytes" % (spec["input_s3"], n))
        else:
            n = self.fetch_manifest(spec.get("inputs") or {}, self.input)
            log("inputs: %d files, %d bytes" % (len(spec.get("inputs") or {}), n))
        os.makedirs(self.output, exist_ok=True)
        make_read_only(self.input)

    # ---- image ----
    def build(self):
        """Makes the job's image (or, in process mode, its venv) ready;
        returns the status record's image entry."""
        image = self.spec.get("image") or {}
        requirements = os.path.join(self.code, "requirements.txt")
        ecr = Ecr(self.region)
        if container.docker_mode():
            self.docker = images.Docker(self.state)
            entry = images.provide(self.docker, ecr, image, requirements, self.work)
            entry["runtime"] = "docker"
            self.image_ref = entry["ref"]
            log(images.describe(entry))
            return entry
        return self.venv_image(ecr, image)

    def venv_image(self, ecr, image):
        """Process mode: the venv stands for the image. ECR's API still
        records the key (a small manifest), so a later job with the same
        requirements reports a reuse."""
        key = image.get("key") or ""
        repo = image.get("repository")
        found = False
        if repo and key:
            try:
                found = bool(ecr.call("DescribeImages", {
                    "repositoryName": repo, "imageIds": [{"imageTag": key}]}).get("imageDetails"))
            except AwsError as e:
                if e.code != "ImageNotFoundException":
                    log("DescribeImages failed (%s); building" % e)
        self.make_venv()
        if repo and key and not found:
            try:
                ecr.call("PutImage", {"repositoryName": repo, "imageTag": key,
                                      "imageManifest": images.manifest_for_process_mode(key)})
            except AwsError as e:
                if e.code not in ("ImageAlreadyExistsException", "ImageTagAlreadyExistsException"):
                    log("PutImage failed: %s" % e)
        return {"key": key, "reused": found, "pushed": False, "runtime": "process"}

    def make_venv(self):
        py = sys.executable or "python3"
        cmd = [py, "-m", "venv", "--system-site-packages"]
        has_pip = subprocess.call([py, "-c", "import pip"], stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL) == 0
        if has_pip:
            cmd.append("--without-pip")  # the system pip is visible and installs into the venv
        run_logged(cmd + [self.venv])
        req = os.path.join(self.code, "requirements.txt")
        if os.path.exists(req):
            env = dict(os.environ, PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_INPUT="1")
            env.pop("PYTHONPATH", None)
            run_logged([os.path.join(self.venv, "bin", "python"), "-m", "pip", "install",
                        "-r", req], env=env)

    # ---- running ----
    def start_script(self):
        spec = self.spec
        entry = spec.get("entry") or "main.py"
        args = spec.get("args") or []
        out = open(self.job_log, "ab")
        if container.docker_mode():
            gpus = gpu.gpu_flags(int((spec.get("resources") or {}).get("gpus") or 0))
            self.container = "hoist-" + self.job_id
            container.prepare_output(self.output)
            checkpoint = None
            if self.checkpoint:
                container.prepare_output(self.checkpoint_folder, tree=True)
                checkpoint = self.checkpoint_folder
            cmd = container.docker_command(
                self.container, self.image_ref, self.code, self.input, self.output, entry, args,
                gpu_flags=gpus, labels={"hoist.job": self.job_id,
                                        "hoist.instance": self.instance_id or ""},
                checkpoint=checkpoint, extra_env=self.script_env())
            cwd = self.work
        else:
            os.makedirs(self.output, exist_ok=True)
            cmd = container.process_command(self.venv, self.input, self.output, entry, args)
            cwd = self.code
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        env.update(self.script_env())
        if self.checkpoint and not container.docker_mode():
            env["HOIST_CHECKPOINT"] = self.checkpoint_folder
        for k in ("HOIST_WORK", "HOIST_BOOTSTRAP_LOG"):
            env.pop(k, None)
        log("running: %s" % " ".join(cmd))
        self.proc = subprocess.Popen(cmd, cwd=cwd, stdout=out, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, env=env, preexec_fn=os.setpgrp)
        out.close()
        save_state(os.path.join(self.state, "script.pgid"), str(self.proc.pid).encode())

    def script_env(self):
        """What the script is told of its attempt (HOIST_ATTEMPT, from 1)."""
        return {"HOIST_ATTEMPT": str(self.attempt)}

    def ship_logs(self):
        try:
            size = os.path.getsize(self.job_log)
        except OSError:
            return
        if size <= self.log_offset:
            return
        with open(self.job_log, "rb") as f:
            f.seek(self.log_offset)
            data = f.read(size - self.log_offset)
        self.log_chunk += 1
        key = self.prefix + record.JOB_LOGS + "%08d.log" % self.log_chunk
        self.s3.put_bytes(self.bucket, key, data, "text/plain; charset=utf-8")
        self.log_offset += len(data)

    def monitor(self):
        while True:
            try:
                rc = self.proc.wait(timeout=POLL)
            except subprocess.TimeoutExpired:
                rc = None
            try:
                self.ship_logs()
            except Exception as e:  # noqa: BLE001 - retried next cycle
                log("log shipping failed: %s" % e)
            if rc is not None:
                return rc
            self.check_abort()
            if self.checkpoint and time.monotonic() >= self.next_save:
                self.save_checkpoint()

    def stop_script(self):
        if self.proc is None or self.proc.poll() is not None:
            self.remove_container()
            return
        log("stopping the script")
        # TERM, then KILL after the grace: the container's processes and
        # the local process group alike.
        for sig, grace in ((signal.SIGTERM, KILL_GRACE), (signal.SIGKILL, None)):
            if self.container:
                container.kill(self.container, sig.name[3:])
            try:
                os.killpg(self.proc.pid, sig)
            except OSError:
                pass
            try:
                self.proc.wait(timeout=grace)
                break
            except subprocess.TimeoutExpired:
                continue
        self.remove_container()

    def remove_container(self):
        """A killed docker client leaves its container running: end it too."""
        if self.container:
            container.remove(self.container)

    # ---- checkpoint ----
    def open_checkpoint(self):
        cp = self.spec.get("checkpoint") if self.spec else None
        if not cp:
            return None
        self.checkpoint = Checkpoint(self.s3, self.bucket, self.job_id, self.checkpoint_folder, THREADS)
        self.checkpoint_every = float(os.environ.get("HOIST_CHECKPOINT_EVERY")
                                      or cp.get("interval_seconds") or 300)
        self.next_save = time.monotonic() + self.checkpoint_every
        return self.checkpoint

    def restore_checkpoint(self):
        cp = self.spec.get("checkpoint") or {}
        files, size, source = self.checkpoint.restore(seed=cp.get("seed"))
        return {"restored_files": files, "restored_bytes": size, "restored_from": source}

    def save_checkpoint(self, final=False):
        """A save now (the periodic one, or the last); its summary for
        status.json, or None when it failed (said in the log)."""
        self.next_save = time.monotonic() + self.checkpoint_every
        try:
            saved = self.checkpoint.save(self.attempt, final=final)
        except Exception as e:  # noqa: BLE001 - the job goes on; the next save may work
            log("checkpoint save failed: %s" % e)
            return None
        if saved is None:
            return None
        summary = dict((self.record or {}).get("checkpoint") or {})
        summary.update({"files": saved["files"], "bytes": saved["bytes"], "saved_at": now_iso(),
                        "attempt": self.attempt})
        if self.record is not None:
            self.record["checkpoint"] = summary
        return summary

    # ---- the next attempt ----
    def attempt_entry(self, ended, error=None):
        return {"attempt": self.attempt, "instance_id": self.instance_id, "spot": self.spot,
                "zone": self.zone, "started_at": ((self.record or {}).get("phases") or {}).get("booting"),
                "ended_at": now_iso(), "ended": ended, "error": error,
                "checkpoint": (self.record or {}).get("checkpoint")}

    def attempts_with(self, entry):
        kept = [a for a in (self.record or {}).get("attempts") or [] if a.get("attempt") != entry["attempt"]]
        return kept + [entry]

    def hand_over(self, message):
        """At a spot notice: the checkpoint saved, the next attempt launched
        (when the retries or --spot-fallback allow one). True when it was:
        this instance then only powers off."""
        market = successor.plan(self.spec, self.attempt, self.spot)
        if market is None:
            return False
        self.wind_down()
        nxt = self.attempt + 1
        self.status("interrupted", error=message, log_chunks=self.log_chunk, next_attempt=nxt,
                    successor=None, attempts=self.attempts_with(self.attempt_entry("interrupted", message)))
        try:
            launched = successor.launch(successor.Ec2(self.region), self.spec, self.job_id, nxt,
                                        market, self.zone)
        except Exception as e:  # noqa: BLE001 - the job ends preempted, saying why
            log("the next attempt could not be launched: %s" % e)
            self.handover_error = "; attempt %d could not be launched: %s" % (nxt, e)
            return False
        log("attempt %d: %s (%s%s)" % (nxt, launched["instance_id"],
                                         "spot" if launched["spot"] else "on demand",
                                         ", " + launched["zone"] if launched["zone"] else ""))
        launched["attempt"] = nxt
        self.status("interrupted", successor=launched)
        return True

    # ---- outputs ----
    def upload_outputs(self):
        dest = self.spec.get("output_s3") if self.spec else None
        if dest:
            bucket, prefix = parse_s3(dest)
        else:
            bucket, prefix = self.bucket, self.prefix + record.OUTPUTS
        return outputs.upload(self.s3, self.output, bucket, prefix, THREADS)

    # ---- the whole job ----
    def resume_record(self):
        """The attempt this process runs, as init left it in state/."""
        st = self.load_status() or {}
        self.attempt = int(st.get("attempt") or 1)
        self.log_chunk = int(st.get("log_chunks") or 0)
        spot = st.get("spot")
        self.spot = bool((self.spec.get("resources") or {}).get("spot")) if spot is None else bool(spot)
        self.zone = st.get("zone") or IMDS.get("/latest/meta-data/placement/availability-zone")

    def run(self):
        self.load_spec()
        self.resume_record()
        self.handover_error = ""
        exit_code = None
        try:
            self.check_abort()
            self.status("staging", spot=self.spot, zone=self.zone)
            self.stage()
            if self.open_checkpoint():
                self.record["checkpoint"] = self.restore_checkpoint()
            self.check_abort()
            self.status("building")
            image = self.build()
            self.check_abort()
            self.status("running", image=image)
            self.start_script()
            exit_code = self.monitor()
            log("script exited with %s" % exit_code)
            if exit_code < 0:  # killed by a signal
                exit_code = 128 - exit_code
            phase = "succeeded" if exit_code == 0 else "failed"
            error = None if exit_code == 0 else "the script exited with status %d" % exit_code
        except Abort as e:
            if e.reason == "preempted" and self.hand_over(str(e)):
                return
            phase, error = e.reason, str(e) + getattr(self, "handover_error", "")
        except Exception as e:  # noqa: BLE001 - every error ends in a terminal status
            phase, error = "failed", "%s: %s" % (type(e).__name__, e)
        self.finish(phase, error, exit_code)

    def wind_down(self):
        """What every end of an attempt does first: the script stopped, its
        last log shipped, the checkpoint saved. A late SIGTERM (the
        watchdog's) must not interrupt it, nor the uploads after it."""
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        try:
            self.stop_script()
        except Exception as e:  # noqa: BLE001
            log("stop failed: %s" % e)
        try:
            self.ship_logs()
        except Exception as e:  # noqa: BLE001
            log("log shipping failed: %s" % e)
        if self.checkpoint:
            self.save_checkpoint(final=True)

    def finish(self, phase, error, exit_code=None):
        """Stops the script, uploads logs and outputs, writes the terminal
        status; an error says so when the disk was full."""
        self.wind_down()
        if self.proc is not None and exit_code is None:
            rc = self.proc.poll()
            exit_code = (128 - rc if rc < 0 else rc) if rc is not None else None
        outputs = None
        try:
            self.status("uploading")
        except Exception as e:  # noqa: BLE001
            log("status failed: %s" % e)
        try:
            outputs = self.upload_outputs()
        except Exception as e:  # noqa: BLE001
            log("output upload failed: %s" % e)
            if phase == "succeeded":
                phase, error = "failed", "output upload failed: %s" % e
        if phase != "succeeded":
            error = (error or phase) + disk_full_hint(self.work)
        fields = {}
        if self.record is not None and self.record.get("attempt"):
            fields["attempts"] = self.attempts_with(self.attempt_entry(phase, error))
        st = self.status(phase, error=error, exit_code=exit_code, outputs=outputs, **fields)
        self.tell(st)

    def tell(self, st):
        """--notify: the end told, from here (never failing the job)."""
        if not self.spec or not self.spec.get("notify"):
            return
        started = iso_to_epoch((self.record or {}).get("started_at"))
        if started is None:
            started = float(os.environ.get("HOIST_T0") or time.time())
        try:
            notify.send(self.spec, st, self.region, time.time() - started, self.job_log)
        except Exception as e:  # noqa: BLE001 - the job's end is written already
            log("notify failed: %s" % type(e).__name__)


def named(st, instance_id):
    """Whether status.json names instance_id as the next attempt."""
    return bool(instance_id) and ((st.get("successor") or {}).get("instance_id") == instance_id)


def handed_over(st):
    """An attempt that ended interrupted, its successor launched: its part is done."""
    return st.get("phase") == "interrupted" and bool((st.get("successor") or {}).get("instance_id"))
