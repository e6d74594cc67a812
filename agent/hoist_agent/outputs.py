"""The script's results: every regular file under its output folder, sent
to S3 under the same relative names.

What the script leaves there is not trusted: a symbolic link is not
followed (it could name /root/.docker/config.json or /proc/1/environ on the
host), nor is a folder reached through one, nor a FIFO, socket or device.
Each is skipped and named in the log instead.
"""
import concurrent.futures
import os
import stat

from hoist_agent.util import log


def regular_files(root):
    """(files, skipped): the paths of the regular files under root, walked
    without following links, and the relative names of what was left out."""
    files, skipped = [], []
    for d, dirs, names in os.walk(root, followlinks=False):
        dirs.sort()
        keep = []
        for n in dirs:
            p = os.path.join(d, n)
            if stat.S_ISDIR(os.lstat(p).st_mode):
                keep.append(n)
            else:  # a link to a folder: os.walk lists it among the folders
                skipped.append(os.path.relpath(p, root))
        dirs[:] = keep
        for n in sorted(names):
            p = os.path.join(d, n)
            try:
                mode = os.lstat(p).st_mode
            except OSError:
                continue
            if stat.S_ISREG(mode):
                files.append(p)
            else:
                skipped.append(os.path.relpath(p, root))
    return files, skipped


def upload(s3, root, bucket, prefix, threads):
    """Uploads the regular files under root to s3://bucket/prefix; returns
    {"files", "bytes", "skipped"}. Raises after trying them all if any failed."""
    if not os.path.isdir(root):
        return {"files": 0, "bytes": 0, "skipped": 0}
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    files, skipped = regular_files(root)
    for rel in skipped:
        log("outputs: %s is not a regular file (a link, say): not uploaded" % rel)

    def up(p):
        rel = os.path.relpath(p, root).replace(os.sep, "/")
        return s3.upload_file(p, bucket, prefix + rel)
    total = 0
    errors = []
    with concurrent.futures.ThreadPoolExecutor(threads) as ex:
        for f in [ex.submit(up, p) for p in files]:
            try:
                total += f.result()
            except Exception as e:  # noqa: BLE001 - upload the rest, then report
                errors.append(str(e))
    log("outputs: %d files, %d bytes -> s3://%s/%s" % (len(files), total, bucket, prefix))
    if errors:
        raise RuntimeError("%d output uploads failed: %s" % (len(errors), errors[0]))
    return {"files": len(files), "bytes": total, "skipped": len(skipped)}
