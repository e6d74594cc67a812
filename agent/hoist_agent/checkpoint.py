"""The job's checkpoint folder (--checkpoint): what the script saves so that
another attempt can go on where this one stopped.

In S3 a checkpoint is a manifest, jobs/<id>/checkpoint.json ({"files":
{name: {sha256, size, mode}}, "saved_at", "attempt"}), and its files stored
by content under jobs/<id>/checkpoint/<sha256>. A save uploads the files
that changed, then replaces the manifest in one PUT, then deletes the
contents no manifest names any more: a save cut short (the instance gone
mid-way) leaves the previous checkpoint whole, and unchanged files are never
sent twice.

The script writes the folder while it is saved: a file that changes while
it is read is left as it was in the last save, and saved next time. A
script that writes its checkpoint to a temporary name and renames it is
never seen half-written. The last save, once the script has stopped, sees
everything.

What the script leaves there is not trusted, as with outputs: links,
FIFOs and devices are skipped (outputs.regular_files).
"""
import concurrent.futures
import hashlib
import json
import os

from hoist_agent import outputs, record
from hoist_agent.aws import AwsError
from hoist_agent.util import log, now_iso, safe_join


def file_sha256(path):
    h = hashlib.sha256()
    with open(path, "rb", buffering=0) as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def signature(st):
    return (st.st_size, st.st_mtime_ns, st.st_ino)


class Checkpoint:
    def __init__(self, s3, bucket, job_id, folder, threads=8):
        self.s3 = s3
        self.bucket = bucket
        self.job_id = job_id
        self.folder = folder
        self.threads = threads
        self.prefix = record.prefix(job_id)
        self.saved = {}  # name -> entry, as the manifest in S3 has it
        self.seen = {}  # name -> the stat signature its saved entry was read with
        self.saves = 0

    def content_key(self, sha):
        return self.prefix + record.CHECKPOINT_CONTENT + sha

    # ---- restore ----
    def restore(self, seed=None):
        """Fills the folder from the last saved checkpoint, or else from the
        seed (a manifest of blobs/sha256/ the laptop staged from its folder);
        returns (files, bytes, where from)."""
        os.makedirs(self.folder, exist_ok=True)
        body = self.s3.get_bytes(self.bucket, self.prefix + record.CHECKPOINT)
        if body:
            files = json.loads(body).get("files") or {}
            source, key = "the last checkpoint", self.content_key
        elif seed:
            files, source = seed, "the folder given to --checkpoint"
            key = lambda sha: "blobs/sha256/" + sha  # noqa: E731
        else:
            return 0, 0, None

        def fetch(item):
            name, ent = item
            target = safe_join(self.folder, name)
            os.makedirs(os.path.dirname(target), exist_ok=True)
            n = self.s3.download(self.bucket, key(ent["sha256"]), target, sha256=ent["sha256"],
                                 size=ent.get("size"))
            os.chmod(target, int(ent.get("mode", 0o644)) & 0o777)
            return name, n, os.stat(target)
        total = 0
        with concurrent.futures.ThreadPoolExecutor(self.threads) as ex:
            for name, n, st in ex.map(fetch, sorted(files.items())):
                total += n
                if body:  # already in S3 under this job: not sent again
                    self.saved[name] = files[name]
                    self.seen[name] = signature(st)
        log("checkpoint: restored %d files (%d bytes) from %s" % (len(files), total, source))
        return len(files), total, source

    # ---- save ----
    def save(self, attempt, final=False):
        """Saves the folder as it is now; returns {"files", "bytes", "sent"}
        (sent: the bytes uploaded), or None when nothing changed."""
        if not os.path.isdir(self.folder):
            return None
        paths, skipped = outputs.regular_files(self.folder)
        for name in skipped:
            log("checkpoint: %s is not a regular file (a link, say): not saved" % name)
        now = {}
        changed = []
        for path in paths:
            name = os.path.relpath(path, self.folder).replace(os.sep, "/")
            try:
                st = os.lstat(path)
            except OSError:
                continue
            if self.seen.get(name) == signature(st) and name in self.saved:
                now[name] = self.saved[name]
            else:
                changed.append((name, path, st))

        def read(item):
            name, path, before = item
            sha = file_sha256(path)
            after = os.lstat(path)
            if signature(after) != signature(before):
                return name, None, None  # being written: next time
            return name, {"sha256": sha, "size": after.st_size, "mode": after.st_mode & 0o777}, after
        known = {e["sha256"] for e in self.saved.values()}
        sent = 0
        with concurrent.futures.ThreadPoolExecutor(self.threads) as ex:
            for name, ent, st in ex.map(read, changed):
                if ent is None:
                    if name in self.saved:
                        now[name] = self.saved[name]
                    log("checkpoint: %s changed while it was read: saved next time" % name)
                    continue
                now[name] = ent
                self.seen[name] = signature(st)
            uploads = {}
            for name, ent in now.items():
                if ent["sha256"] not in known and ent["sha256"] not in uploads:
                    uploads[ent["sha256"]] = os.path.join(self.folder, name)
            for n in ex.map(lambda item: self.s3.upload_file(item[1], self.bucket, self.content_key(item[0])),
                            uploads.items()):
                sent += n
        if now == self.saved and self.saves and not final:
            return None
        manifest = {"files": now, "saved_at": now_iso(), "attempt": attempt}
        self.s3.put_bytes(self.bucket, self.prefix + record.CHECKPOINT,
                          json.dumps(manifest, indent=1, sort_keys=True).encode(), "application/json")
        gone = known - {e["sha256"] for e in now.values()}
        self.saved = now
        self.seen = {k: v for k, v in self.seen.items() if k in now}
        self.saves += 1
        for sha in sorted(gone):
            try:
                self.s3.delete(self.bucket, self.content_key(sha))
            except AwsError as e:  # garbage stays until the job's record goes
                log("checkpoint: old content %s could not be deleted: %s" % (sha[:12], e))
        size = sum(e["size"] for e in now.values())
        log("checkpoint: saved %d files (%d bytes; %d sent)" % (len(now), size, sent))
        return {"files": len(now), "bytes": size, "sent": sent}
