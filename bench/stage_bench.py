#!/usr/bin/env python3
"""Staging benchmark: hoist vs `aws s3 sync` vs `rclone sync` vs a raw parallel
PUT loop, all against moto on 127.0.0.1.  See bench/README.md.

  python3 bench/stage_bench.py                 # 1 GB, 10,000 files (the issue's size)
  python3 bench/stage_bench.py --small         # 100 MB, 1,000 files
  python3 bench/stage_bench.py --files 2000 --total-mb 300 --only raw,hoist
  python3 bench/stage_bench.py --emulator moto_server   # a new TCP connection per request

Nothing here talks to anything but 127.0.0.1: fake credentials, no config
files, no instance metadata.
"""
from __future__ import annotations

import argparse
import concurrent.futures as cf
import http.client
import json
import os
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
REQUEST_RE = re.compile(r'"(GET|PUT|POST|HEAD|DELETE) (\S+) HTTP/1\.[01]" (\d+)')

# Runs a command and prints, as JSON on fd 3, the CPU time and peak RSS of the
# command's process tree as the kernel accounts it for waited-for children.
# Used when /usr/bin/time is missing (and by default: one code path).
RUSAGE_WRAPPER = r"""
import json, os, resource, subprocess, sys, time
t0 = time.monotonic()
rc = subprocess.call(sys.argv[2:])
wall = time.monotonic() - t0
ru = resource.getrusage(resource.RUSAGE_CHILDREN)
with open(sys.argv[1], "w") as f:
    json.dump({"rc": rc, "wall": wall, "user": ru.ru_utime, "sys": ru.ru_stime,
               "maxrss_kb": ru.ru_maxrss}, f)
sys.exit(rc)
"""


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def human(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if abs(n) < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return str(n)


# ---------------------------------------------------------------- data set

def make_dataset(root: Path, files: int, total: int, seed: int = 1) -> Path:
    """`files` files of random (incompressible, distinct) content, sizes
    spread 0.5x..1.5x around the mean, in 100-file sub-folders.  Reused when a
    previous run made the same one."""
    d = root / f"data-{files}-{total}"
    stamp = d / ".complete"
    if stamp.exists():
        return d / "in"
    if d.exists():
        shutil.rmtree(d)
    rng = random.Random(seed)
    mean = total // files
    sizes = [rng.randint(mean // 2, mean + mean // 2) for _ in range(files)]
    sizes[-1] += total - sum(sizes)  # exact total
    sizes[-1] = max(sizes[-1], 1)
    for i, size in enumerate(sizes):
        sub = d / "in" / f"part{i // 100:03d}"
        sub.mkdir(parents=True, exist_ok=True)
        (sub / f"file{i:05d}.bin").write_bytes(rng.randbytes(size))
    stamp.write_text("ok\n")
    return d / "in"


def dataset_files(data: Path) -> list[tuple[str, Path]]:
    out = []
    for dirpath, _, names in os.walk(data):
        for n in names:
            p = Path(dirpath) / n
            out.append((p.relative_to(data).as_posix(), p))
    out.sort()
    return out


# ---------------------------------------------------------------- emulator

# How the emulator is served (see bench/README.md): "moto_server" or
# "keepalive", the same moto over HTTP/1.1 keep-alive, as S3 serves.
sys.path.insert(0, str(REPO / "tests" / "tools"))
import moto_keepalive  # noqa: E402

EMULATORS = moto_keepalive.SERVERS


class Moto:
    def __init__(self, workdir: Path, name: str = "moto", emulator: str = "moto_server"):
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.log_path = workdir / f"{name}.log"
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(EMULATORS[emulator] + ["-H", "127.0.0.1", "-p", str(self.port)],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        for _ in range(150):
            try:
                c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=1)
                c.request("GET", "/moto-api/")
                c.getresponse().read()
                return
            except OSError:
                time.sleep(0.2)
        raise SystemExit("moto_server did not start")

    def requests(self) -> list[tuple[str, str, int]]:
        self.log.flush()
        out = []
        with open(self.log_path, errors="replace") as f:
            for line in f:
                m = REQUEST_RE.search(line)
                if m:
                    out.append((m.group(1), m.group(2), int(m.group(3))))
        return out

    def connections(self) -> int:
        """TCP connections opened so far (logged only by the keepalive emulator)."""
        self.log.flush()
        with open(self.log_path, errors="replace") as f:
            return moto_keepalive.connections_in(f.read())

    def mark(self) -> int:
        """Number of requests logged so far, once the log has stopped growing."""
        last = -1
        for _ in range(40):
            n = len(self.requests())
            if n == last:
                return n
            last = n
            time.sleep(0.25)
        return last

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


def clean_env(endpoint: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "RCLONE_", "HOIST_"))}
    env.update({
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
        "RCLONE_CONFIG": "/dev/null",
        "RCLONE_CONFIG_EMU_TYPE": "s3",
        "RCLONE_CONFIG_EMU_PROVIDER": "Other",
        "RCLONE_CONFIG_EMU_ENDPOINT": endpoint,
        "RCLONE_CONFIG_EMU_ACCESS_KEY_ID": "testing",
        "RCLONE_CONFIG_EMU_SECRET_ACCESS_KEY": "testing",
        "RCLONE_CONFIG_EMU_REGION": "us-east-1",
        "RCLONE_CONFIG_EMU_FORCE_PATH_STYLE": "true",
        "NO_PROXY": "127.0.0.1,localhost",
    })
    for k in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy"):
        env.pop(k, None)
    return env


def create_bucket(endpoint: str, bucket: str):
    c = http.client.HTTPConnection("127.0.0.1", int(endpoint.rsplit(":", 1)[1]))
    c.request("PUT", f"/{bucket}")
    r = c.getresponse()
    r.read()
    if r.status not in (200, 409):
        raise SystemExit(f"cannot create bucket {bucket}: HTTP {r.status}")


# ---------------------------------------------------------------- measuring

def measure(cmd: list[str], env: dict, workdir: Path, label: str) -> dict:
    """Wall, client CPU (user+sys of the whole process tree) and peak RSS."""
    out_json = workdir / f"rusage-{label}.json"
    log = workdir / f"{label}.log"
    time_bin = shutil.which("time") if os.path.exists("/usr/bin/time") else None
    with open(log, "w") as lf:
        if time_bin and os.environ.get("BENCH_NO_GNU_TIME") is None:
            fmt = '{"rc": %x, "wall": %e, "user": %U, "sys": %S, "maxrss_kb": %M}'
            t0 = time.monotonic()
            rc = subprocess.call(["/usr/bin/time", "-o", str(out_json), "-f", fmt] + cmd,
                                 env=env, stdout=lf, stderr=subprocess.STDOUT)
            wall = time.monotonic() - t0
            r = json.loads(out_json.read_text().strip().splitlines()[-1])
            r["wall"] = wall  # finer than %e
        else:
            rc = subprocess.call([sys.executable, "-c", RUSAGE_WRAPPER, str(out_json)] + cmd,
                                 env=env, stdout=lf, stderr=subprocess.STDOUT)
            r = json.loads(out_json.read_text())
    r["rc"] = rc
    r["cpu"] = r["user"] + r["sys"]
    r["log"] = log.read_text(errors="replace")
    if rc != 0:
        sys.stderr.write(f"!! {label}: exit {rc}\n{r['log'][-3000:]}\n")
    return r


def raw_put_loop(endpoint: str, bucket: str, files: list[tuple[str, Path]], threads: int) -> float:
    """The emulator's limit: unsigned PUTs over kept-alive connections, as
    many at once as `threads`.  Wall time only."""
    port = int(endpoint.rsplit(":", 1)[1])
    local = threading.local()

    def put(item):
        rel, path = item
        c = getattr(local, "conn", None)
        if c is None:
            c = local.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        body = path.read_bytes()
        c.request("PUT", f"/{bucket}/{rel}", body=body,
                  headers={"Content-Length": str(len(body)), "Content-Type": "application/octet-stream"})
        r = c.getresponse()
        r.read()
        if r.status != 200:
            raise RuntimeError(f"PUT {rel}: HTTP {r.status}")

    t0 = time.monotonic()
    with cf.ThreadPoolExecutor(threads) as ex:
        list(ex.map(put, files))
    return time.monotonic() - t0


STAGED_RE = re.compile(r"staged (\d+) files \(([^)]*)\): sent (\d+) \(([^,]*), ([^)]*)\), skipped (\d+)")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, default=10000)
    ap.add_argument("--total-mb", type=float, default=1000.0, help="total input size in MB (10^6 bytes)")
    ap.add_argument("--small", action="store_true", help="100 MB in 1,000 files")
    ap.add_argument("--hoist", default=str(REPO / "build-bench" / "hoist"))
    ap.add_argument("--project", default=str(REPO / "examples" / "wordcount"))
    ap.add_argument("--workdir", default=os.environ.get("BENCH_DIR", "/tmp/hoist-bench"))
    ap.add_argument("--raw-threads", default="16,32", help="thread counts to try for the raw loop; the best is the limit")
    ap.add_argument("--only", default="raw,aws,rclone,hoist")
    ap.add_argument("--emulator", choices=sorted(EMULATORS), default="keepalive",
                    help="keepalive (default: moto with connections kept open, as S3 keeps them) or "
                         "moto_server (moto's own server: a new TCP connection for every request)")
    ap.add_argument("--json", help="also write the figures here")
    ap.add_argument("--repeat", type=int, default=1,
                    help="measure every step this many times (each on a fresh emulator) and report the median")
    a = ap.parse_args()
    if a.small:
        a.files, a.total_mb = 1000, 100.0
    only = set(a.only.split(","))
    total = int(a.total_mb * 1e6)
    work = Path(a.workdir)
    work.mkdir(parents=True, exist_ok=True)

    print(f"# data set: {a.files} files, {human(total)} under {work}", flush=True)
    data = make_dataset(work, a.files, total)
    files = dataset_files(data)
    run_dir = Path(tempfile.mkdtemp(prefix="run-", dir=work))
    moto = None
    started = 0
    env: dict = {}
    rows: list[dict] = []
    current_rep = 0

    def fresh_emulator(tool: str):
        """Each tool meets the same empty emulator: moto slows down (and its
        clients' CPU goes up) as it holds more objects, which would otherwise
        penalise whichever tool runs last."""
        nonlocal moto, env, started
        if moto is not None:
            moto.stop()
        started += 1
        moto = Moto(run_dir, f"moto-{started:02d}-{tool}", a.emulator)
        env = clean_env(moto.endpoint)
        print(f"# {tool}: fresh {a.emulator} at {moto.endpoint}, log {moto.log_path}", flush=True)

    def step(tool: str, run: str, fn):
        before = moto.mark()
        conns_before = moto.connections()
        r = fn()
        after = moto.mark()
        reqs = moto.requests()[before:after]
        conns = moto.connections() - conns_before
        r.update(tool=tool, run=run, rep=current_rep, requests=len(reqs),
                 puts=sum(1 for m, _, _ in reqs if m == "PUT"),
                 # hoist's staging proper: blob LIST/HEAD/PUT (the rest is STS,
                 # IAM, ECR, SSM, job.json, status.json, RunInstances)
                 stage_requests=(sum(1 for _, p, _ in reqs if "blobs" in p) if tool == "hoist" else len(reqs)),
                 sent=r.get("sent", None), connections=conns if a.emulator == "keepalive" else len(reqs))
        rows.append(r)
        print(f"  {tool:8} {run:7} wall {r['wall']:7.2f}s  cpu {r.get('cpu') or 0:7.2f}s  "
              f"rss {(r.get('maxrss_kb') or 0) / 1024:6.1f} MB  requests {len(reqs)}  "
              f"TCP connections {r['connections']}", flush=True)
        return r

    try:
        limit = None
        for rep in range(a.repeat):
            current_rep = rep
            if a.repeat > 1:
                print(f"# repetition {rep + 1} of {a.repeat}", flush=True)
            if "raw" in only:
                best = None
                for t in [int(x) for x in a.raw_threads.split(",")]:
                    fresh_emulator(f"raw-{t}")
                    bucket = f"bench-raw-{t}"
                    create_bucket(moto.endpoint, bucket)
                    r = step("raw-put", f"{t} thr", lambda: {"wall": raw_put_loop(moto.endpoint, bucket, files, t),
                                                              "cpu": None, "maxrss_kb": None, "sent": total})
                    best = r["wall"] if best is None else min(best, r["wall"])
                limit = best if limit is None else min(limit, best)

            if "aws" in only:
                fresh_emulator("aws")
                create_bucket(moto.endpoint, "bench-aws")
                cmd = ["aws", "--endpoint-url", moto.endpoint, "s3", "sync", "--no-progress", "--only-show-errors",
                       str(data), "s3://bench-aws/in/"]
                step("aws-s3", "first", lambda: measure(cmd, env, run_dir, "aws-first"))
                step("aws-s3", "re-run", lambda: measure(cmd, env, run_dir, "aws-rerun"))

            if "hoist" in only:
                fresh_emulator("hoist")
                # hoist's local hash cache starts empty, as on a machine that has
                # never run hoist on this data; the re-run then finds it filled.
                env["XDG_CACHE_HOME"] = str(run_dir / f"hoist-cache-{rep}")
                # Warm the account (bucket, ECR repository, instance profile) with a
                # one-file input, so the measured runs are about staging.
                tiny = run_dir / "tiny"
                tiny.mkdir(exist_ok=True)
                (tiny / "x.txt").write_text("warm-up\n")
                out = run_dir / "out"
                base = [a.hoist, "run", a.project, "-o", str(out), "--yes", "--detach",
                        "--endpoint-url", moto.endpoint, "--region", "us-east-1"]
                r = measure(base + ["-i", str(tiny)], env, run_dir, "hoist-warmup")
                if r["rc"] != 0:
                    raise SystemExit("hoist warm-up run failed")
                for label in ("first", "re-run"):
                    r = step("hoist", label, lambda: measure(base + ["-i", str(data)], env, run_dir,
                                                            "hoist-" + label.replace("-", "")))
                    m = STAGED_RE.search(r["log"])
                    if m:
                        r["staged_line"] = m.group(0)
                        r["sent_files"] = int(m.group(3))
                        r["sent_h"] = m.group(4)
                        print(f"           {m.group(0)}", flush=True)
            # after hoist, so that aws and hoist run back to back (the ratio of
            # their CPU times is the target; the machine drifts over minutes)
            if "rclone" in only:
                fresh_emulator("rclone")
                create_bucket(moto.endpoint, "bench-rclone")
                cmd = ["rclone", "sync", str(data), "emu:bench-rclone/in"]
                step("rclone", "first", lambda: measure(cmd, env, run_dir, "rclone-first"))
                step("rclone", "re-run", lambda: measure(cmd, env, run_dir, "rclone-rerun"))

    finally:
        if moto is not None:
            moto.stop()

    # ------------------------------------------------------------ medians
    # With --repeat N, each (tool, run) has N rows: the table shows their
    # median, and the spread beside it; peak memory is the largest seen.
    measured = rows
    rows = []
    for key in dict.fromkeys((r["tool"], r["run"]) for r in measured):
        rs = [r for r in measured if (r["tool"], r["run"]) == key]
        m = dict(sorted(rs, key=lambda r: r["wall"])[len(rs) // 2])
        for f in ("wall", "cpu", "requests", "stage_requests"):
            vals = [r[f] for r in rs if r.get(f) is not None]
            m[f] = statistics.median(vals) if vals else None
        rss = [r["maxrss_kb"] for r in rs if r.get("maxrss_kb")]
        m["maxrss_kb"] = max(rss) if rss else None
        m["n"] = len(rs)
        m["wall_range"] = (min(r["wall"] for r in rs), max(r["wall"] for r in rs))
        cpus = [r["cpu"] for r in rs if r.get("cpu") is not None]
        m["cpu_range"] = (min(cpus), max(cpus)) if cpus else None
        if any("sent_files" in r for r in rs):
            m["sent_files"] = max(r.get("sent_files", 0) for r in rs)
        rows.append(m)

    # ------------------------------------------------------------ the table
    print()
    if a.repeat > 1:
        print(f"Each figure is the median of {a.repeat} runs, each on a fresh emulator (peak RSS: the largest); "
              "the ranges are min-max.")
    print(f"Data: {a.files} files, {human(total)}; emulator {a.emulator} on 127.0.0.1; {os.cpu_count()} CPUs; "
          f"load average at the end {os.getloadavg()[0]:.1f}")
    if limit:
        print(f"Emulator limit (best raw parallel PUT loop): {limit:.2f} s = {human(total / limit)}/s")
    print()
    spread = a.repeat > 1
    hdr = ("| tool | run | wall s | vs limit | client CPU s | peak RSS MB | requests | staging requests "
           "| staging req / 1000 files |" + (" wall range s | CPU range s |" if spread else ""))
    print(hdr)
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|" + ("---:|---:|" if spread else ""))
    for r in rows:
        cpu = "-" if r.get("cpu") is None else f"{r['cpu']:.2f}"
        rss = "-" if not r.get("maxrss_kb") else f"{r['maxrss_kb'] / 1024:.1f}"
        vs = f"{r['wall'] / limit:.2f}x" if limit else "-"
        extra = ""
        if spread:
            cr = r.get("cpu_range")
            extra = (f" {r['wall_range'][0]:.2f}-{r['wall_range'][1]:.2f} |"
                     f" {f'{cr[0]:.2f}-{cr[1]:.2f}' if cr else '-'} |")
        print(f"| {r['tool']} | {r['run']} | {r['wall']:.2f} | {vs} | {cpu} | {rss} | {r['requests']:.0f} | "
              f"{r['stage_requests']:.0f} | {r['stage_requests'] * 1000 / a.files:.1f} |" + extra)
    for r in rows:
        if r.get("staged_line"):
            print(f"\nhoist {r['run']}: {r['staged_line']}")

    # ------------------------------------------------------------ targets
    by = {(r["tool"], r["run"]): r for r in rows}
    h1, h2, aw = by.get(("hoist", "first")), by.get(("hoist", "re-run")), by.get(("aws-s3", "first"))
    if h1 and h2:
        print("\nTargets:")
        if aw:
            ratio = aw["cpu"] / max(h1["cpu"], 1e-9)
            # Each repetition's aws and hoist ran back to back: their ratio
            # is the paired comparison, less moved by the machine's drift.
            pairs = []
            for rep in range(a.repeat):
                a_cpu = [r["cpu"] for r in measured if (r["tool"], r["run"], r["rep"]) == ("aws-s3", "first", rep)]
                h_cpu = [r["cpu"] for r in measured if (r["tool"], r["run"], r["rep"]) == ("hoist", "first", rep)]
                if a_cpu and h_cpu:
                    pairs.append(a_cpu[0] / max(h_cpu[0], 1e-9))
            paired = (f"; per repetition {', '.join(f'{p:.1f}x' for p in pairs)}, median "
                      f"{statistics.median(pairs):.1f}x" if len(pairs) > 1 else "")
            print(f"- client CPU 10x below aws s3 sync (first run): {aw['cpu']:.2f}s / {h1['cpu']:.2f}s = "
                  f"{ratio:.1f}x{paired} -> {'MET' if ratio >= 10 else 'NOT MET'}")
        if limit:
            over = h1["wall"] / limit - 1
            print(f"- wall within 20% of the emulator limit: {h1['wall']:.2f}s vs {limit:.2f}s = {over * 100:+.0f}% -> "
                  f"{'MET' if over <= 0.20 else 'NOT MET'}")
        per1000 = h2["stage_requests"] * 1000 / a.files
        zero = h2.get("sent_files") == 0
        print(f"- re-run sends 0 bytes, <= 1 request / 1000 files: sent {h2.get('sent_files')} files "
              f"({h2.get('sent_h')}), {h2['stage_requests']:.0f} staging requests = {per1000:.2f} / 1000 input files -> "
              f"{'MET' if zero and per1000 <= 1 else 'NOT MET'} ({h2['requests']:.0f} requests for the whole command, "
              f"with STS, IAM, ECR, SSM, job.json, status.json and RunInstances)")
        peak = max(h1["maxrss_kb"], h2["maxrss_kb"]) / 1024
        print(f"- peak memory under 64 MB: {peak:.1f} MB -> {'MET' if peak < 64 else 'NOT MET'}")
    if a.json:
        Path(a.json).write_text(json.dumps({"files": a.files, "bytes": total, "limit": limit, "emulator": a.emulator,
                                            "rows": [{k: v for k, v in r.items() if k != "log"} for r in rows],
                                            "runs": [{k: v for k, v in r.items() if k != "log"} for r in measured]},
                                           indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
