"""Logging, paths and subprocesses shared by the agent's modules."""
import datetime
import os
import shutil
import subprocess
import sys


def log(msg):
    ts = datetime.datetime.utcnow().strftime("%H:%M:%S")
    try:
        sys.stderr.write("[agent %s] %s\n" % (ts, msg))
        sys.stderr.flush()
    except (OSError, ValueError):  # a log that cannot be written is no reason to stop
        pass


def write_file(path, data):
    """Writes data (bytes) to path through a temporary file and a rename:
    on a full disk the write fails and leaves path as it was."""
    tmp = path + ".tmp"
    try:
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def save_state(path, data):
    """write_file for what is only kept for another process's use (a pid, the
    local copy of status.json): on a full disk it says so and goes on."""
    try:
        write_file(path, data)
        return True
    except OSError as e:
        log("could not save %s: %s" % (path, e))
        return False


def now_iso():
    return datetime.datetime.utcnow().strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_to_epoch(stamp):
    """Seconds since the epoch of a "2026-12-01T18:00:00Z" stamp; None when
    there is none or it does not parse."""
    try:
        t = datetime.datetime.strptime(stamp[:19], "%Y-%m-%dT%H:%M:%S")
    except (TypeError, ValueError):
        return None
    return t.replace(tzinfo=datetime.timezone.utc).timestamp()


class Abort(Exception):
    """The job must stop: reason is a terminal phase (cancelled, preempted, timed_out)."""

    def __init__(self, reason, message):
        Exception.__init__(self, message)
        self.reason = reason


def disk_full_hint(path):
    """What to add to a failure when the disk under path is (nearly) full:
    staging, the image build or the script itself may have filled it, and
    each says so in its own words (or not at all)."""
    try:
        usage = shutil.disk_usage(path)
    except OSError:
        return ""
    if usage.free > max(256 << 20, usage.total // 100):
        return ""
    size = ("%d GiB" % round(usage.total / (1 << 30)) if usage.total >= 1 << 30
            else "%d MiB" % round(usage.total / (1 << 20)))
    return "; the instance's %s disk was full: run again with a larger --disk" % size


def parse_s3(uri):
    if not uri.startswith("s3://"):
        raise ValueError("not an s3:// URI: %r" % uri)
    bucket, _, prefix = uri[5:].partition("/")
    return bucket, prefix


def safe_join(root, rel):
    parts = rel.split("/")
    if (not rel or rel.startswith("/") or "\0" in rel or
            any(p in ("", ".", "..") for p in parts)):
        raise ValueError("unsafe relative path in manifest: %r" % rel)
    return os.path.join(root, *parts)


def make_read_only(root):
    for d, dirs, files in os.walk(root, topdown=False):
        for n in files:
            p = os.path.join(d, n)
            os.chmod(p, os.stat(p).st_mode & ~0o222)
        os.chmod(d, os.stat(d).st_mode & ~0o222)


def run_logged(cmd, check=True, env=None):
    log("$ %s" % " ".join(cmd))
    p = subprocess.Popen(cmd, stdout=sys.stderr, stderr=sys.stderr, env=env,
                         stdin=subprocess.DEVNULL)
    try:
        rc = p.wait()
    except BaseException:  # Abort (watchdog) while building: do not leave it running
        p.kill()
        p.wait()
        raise
    if check and rc != 0:
        raise RuntimeError("%s exited with status %d" % (cmd[0], rc))
    return rc
