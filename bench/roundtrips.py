#!/usr/bin/env python3
"""Counts the sequential AWS round trips of `hoist run --detach` from the
command to RunInstances on a warm account (resources exist, inputs unchanged).

It puts a recording HTTP proxy on 127.0.0.1 between hoist and moto_server,
notes when each request starts and ends, and finds the longest chain of
requests where each one starts after the previous one ended: that is the
number of round trips the command has to wait for one after another
(requests that overlap in time count once).

  python3 bench/roundtrips.py [--hoist build-bench/hoist] [--runs 3]

Run 1 makes the account warm (bucket, ECR repository, instance profile, input
blobs); runs 2.. are the warm ones that are reported.
"""
from __future__ import annotations

import argparse
import http.client
import http.server
import re
import socketserver
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))
from stage_bench import REPO, Moto, clean_env, free_port  # noqa: E402

SERVICE_RE = re.compile(r"Credential=[^/]+/\d+/[^/]+/([^/]+)/")


def operation(method: str, path: str, headers, body: bytes) -> tuple[str, str]:
    auth = headers.get("Authorization", "")
    m = SERVICE_RE.search(auth)
    service = m.group(1) if m else "?"
    target = headers.get("X-Amz-Target")
    if target:
        return service, target.split(".")[-1]
    if method == "POST" and body and b"Action=" in body:
        q = parse_qs(body.decode(errors="replace"))
        return service, q.get("Action", ["?"])[0]
    u = urlsplit(path)
    q = parse_qs(u.query, keep_blank_values=True)
    if "Action" in q:
        return service, q["Action"][0]
    parts = [p for p in u.path.split("/") if p]
    if service == "s3":
        if len(parts) <= 1:
            if method == "HEAD":
                return service, "HeadBucket"
            if method == "GET" and "list-type" in q:
                return service, "ListObjectsV2"
            if method == "PUT":
                return service, "CreateBucket" if not q else "PutBucket" + next(iter(q)).capitalize()
            return service, f"{method} bucket?{'&'.join(q)}"
        key = "/".join(parts[1:])
        name = {"HEAD": "HeadObject", "GET": "GetObject", "PUT": "PutObject", "DELETE": "DeleteObject"}.get(method, method)
        return service, f"{name} {key[:40]}"
    return service, f"{method} {u.path}"


class Recorder:
    def __init__(self):
        self.lock = threading.Lock()
        self.events: list[tuple[float, float, str, str, int]] = []

    def clear(self):
        with self.lock:
            self.events = []


def make_proxy(upstream_port: int, rec: Recorder):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def handle_one(self):
            t0 = time.monotonic()
            n = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(n) if n else b""
            conn = getattr(self.server.local, "conn", None)
            if conn is None:
                conn = self.server.local.conn = http.client.HTTPConnection("127.0.0.1", upstream_port, timeout=300)
            hdrs = {k: v for k, v in self.headers.items() if k.lower() not in ("connection",)}
            conn.request(self.command, self.path, body=body if body or self.command in ("PUT", "POST") else None,
                         headers=hdrs)
            r = conn.getresponse()
            data = r.read()
            self.send_response_only(r.status, r.reason)
            for k, v in r.getheaders():
                if k.lower() not in ("transfer-encoding", "connection", "content-length", "server", "date"):
                    self.send_header(k, v)
            # HEAD answers carry the object's length, not the (empty) body's
            length = r.getheader("Content-Length") if self.command == "HEAD" else None
            self.send_header("Content-Length", length if length is not None else str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)
            self.wfile.flush()
            t1 = time.monotonic()
            service, op = operation(self.command, self.path, self.headers, body)
            with rec.lock:
                rec.events.append((t0, t1, service, op, r.status))

        do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = handle_one

    class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
        daemon_threads = True
        request_queue_size = 256  # a short backlog drops SYNs: 1 s stalls that are not hoist's

    port = free_port()
    srv = Server(("127.0.0.1", port), Handler)
    srv.local = threading.local()
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv, port


def chain(events):
    """Longest chain of non-overlapping requests ending at RunInstances."""
    ev = sorted(events)
    end_i = next((i for i, e in enumerate(ev) if e[3] == "RunInstances"), len(ev) - 1)
    ev = ev[: end_i + 1]
    eps = 0.0005  # requests within 0.5 ms count as overlapping
    depth, prev = [], []
    for i, (s, e, *_rest) in enumerate(ev):
        best, arg = 0, -1
        for j in range(i):
            if ev[j][1] <= s + eps and depth[j] > best:
                best, arg = depth[j], j
        depth.append(best + 1)
        prev.append(arg)
    i = end_i if end_i < len(ev) else len(ev) - 1
    path = []
    while i >= 0:
        path.append(i)
        i = prev[i]
    return ev, depth, list(reversed(path))


def groups(ev):
    """Requests merged while they overlap in time: each group is one round
    trip the command waits for (parallel requests count once)."""
    out = []
    for s, e, service, op, _status in ev:
        if out and s < out[-1][1]:
            out[-1][1] = max(out[-1][1], e)
            out[-1][2].append(f"{service} {op.split(' ')[0]}")
        else:
            out.append([s, e, [f"{service} {op.split(' ')[0]}"]])
    return out


def summarize(names):
    counts = {}
    for n in names:
        counts[n] = counts.get(n, 0) + 1
    return ", ".join(f"{n} x{c}" if c > 1 else n for n, c in counts.items())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hoist", default=str(REPO / "build-bench" / "hoist"))
    ap.add_argument("--project", default=str(REPO / "examples" / "wordcount"))
    ap.add_argument("--input", default=str(REPO / "examples" / "wordcount" / "sample-input"))
    ap.add_argument("--runs", type=int, default=3)
    a = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="hoist-rt-"))
    moto = Moto(work)
    rec = Recorder()
    srv, port = make_proxy(moto.port, rec)
    proxy = f"http://127.0.0.1:{port}"
    env = clean_env(proxy)
    env["AWS_ENDPOINT_URL"] = proxy
    results = []
    try:
        for run in range(1, a.runs + 1):
            rec.clear()
            t0 = time.monotonic()
            p = subprocess.run([a.hoist, "-v", "run", a.project, "-i", a.input, "-o", str(work / "out"), "--yes",
                                "--detach", "--endpoint-url", proxy, "--region", "us-east-1"],
                               env=env, capture_output=True, text=True)
            wall = time.monotonic() - t0
            if p.returncode != 0:
                print(p.stderr, file=sys.stderr)
                raise SystemExit(f"hoist run {run} failed: exit {p.returncode}")
            time.sleep(0.2)
            with rec.lock:
                events = list(rec.events)
            ev, depth, path = chain(events)
            base = ev[0][0] if ev else t0
            print(f"\n## run {run} ({'cold' if run == 1 else 'warm'}): {len(ev)} requests up to RunInstances, "
                  f"{depth[path[-1]] if path else 0} sequential round trips, command wall {wall:.2f}s")
            print(f"{'start ms':>9} {'end ms':>8} {'step':>4}  call")
            on_path = set(path)
            for i, (s, e, service, op, status) in enumerate(ev):
                print(f"{(s - base) * 1000:9.1f} {(e - base) * 1000:8.1f} {depth[i]:4d}{'*' if i in on_path else ' '} "
                      f"{service} {op} -> {status}")
            g = groups(ev)
            print(f"round trips (overlapping requests merged): {len(g)}")
            for k, (s, e, names) in enumerate(g, 1):
                print(f"  {k}. {(s - base) * 1000:7.1f}-{(e - base) * 1000:7.1f} ms  {summarize(names)}")
            results.append((run, len(ev), len(g), depth[path[-1]] if path else 0, wall))
    finally:
        srv.shutdown()
        moto.stop()
    print("\n| run | requests to RunInstances | round trips (overlaps merged, incl. RunInstances) "
          "| longest strict chain | wall s |")
    print("|---|---:|---:|---:|---:|")
    for run, n, g, d, wall in results:
        print(f"| {run} {'cold' if run == 1 else 'warm'} | {n} | {g} | {d} | {wall:.2f} |")
    warm = [g for run, _, g, _, _ in results if run > 1]
    if warm:
        print(f"\nTarget <= 6 sequential round trips on a warm account: {max(warm)} -> "
              f"{'MET' if max(warm) <= 6 else 'NOT MET'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
