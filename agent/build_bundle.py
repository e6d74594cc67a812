#!/usr/bin/env python3
"""Builds the instance agent as one Python zipapp: build_bundle.py OUT.pyz

The bundle holds a top-level __main__.py (so `python3 OUT.pyz init|run|
finalize ...` runs hoist_agent.cli), every agent/hoist_agent/*.py, and
agent/bootstrap.sh as bootstrap.sh. The same sources always give the same
bytes (sorted entries, a fixed timestamp and fixed permissions), so the
bundle's SHA-256 names it: hoist stores it at blobs/sha256/<hex> in the
job's bucket, and the user data (agent/loader.sh) fetches it by that hash.
"""
import io
import os
import sys
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
MAIN = b"import sys\nfrom hoist_agent.cli import main\nsys.exit(main(sys.argv))\n"
STAMP = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip entry can carry
MODE = 0o100644  # a regular file, rw-r--r--


def entries(root=HERE):
    """{name in the bundle: bytes} of everything the bundle holds."""
    out = {"__main__.py": MAIN}
    package = os.path.join(root, "hoist_agent")
    for name in os.listdir(package):
        path = os.path.join(package, name)
        if name.endswith(".py") and os.path.isfile(path):
            with open(path, "rb") as f:
                out["hoist_agent/" + name] = f.read()
    with open(os.path.join(root, "bootstrap.sh"), "rb") as f:
        out["bootstrap.sh"] = f.read()
    return out


def bundle(files):
    """The zip of files ({name: bytes}), byte for byte the same for the same files."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=STAMP)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3  # Unix, wherever it is built
            info.external_attr = MODE << 16
            z.writestr(info, files[name], compresslevel=9)
    return buf.getvalue()


def main(argv):
    if len(argv) != 2:
        sys.stderr.write("usage: build_bundle.py OUT.pyz\n")
        return 2
    out = argv[1]
    data = bundle(entries())
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    tmp = out + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
