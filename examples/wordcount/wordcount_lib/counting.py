import collections
import os
import re

WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?", re.UNICODE)


def text_files(root):
    """Relative paths ('/'-separated) of every file under root, sorted."""
    out = []
    for d, dirs, names in os.walk(root):
        dirs.sort()
        for n in names:
            out.append(os.path.relpath(os.path.join(d, n), root).replace(os.sep, "/"))
    return sorted(out)


def has_fail_marker(files):
    return any(f.split("/")[-1] == "FAIL" for f in files)


def count_files(root, files, min_length=1):
    totals = collections.Counter()
    per_file = {}
    for rel in files:
        with open(os.path.join(root, *rel.split("/")), encoding="utf-8", errors="replace") as f:
            words = [w.lower() for w in WORD.findall(f.read()) if len(w) >= min_length]
        totals.update(words)
        per_file[rel] = len(words)
    return totals, per_file
