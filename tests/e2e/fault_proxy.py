#!/usr/bin/env python3
"""A misbehaving S3 in front of a real one (moto): a threaded HTTP proxy on
127.0.0.1 that forwards requests upstream but answers some with throttling
and drops some connections, as S3 under load does.

  fault_proxy.py --upstream http://127.0.0.1:PORT [--throttle 0.10]
                 [--drop 0.02] [--garbage 0] [--streak 6] [--seed N]

Prints "PORT <n>" once it listens. Faults, per request:

  throttle  this share of all requests is answered 503 SlowDown (S3's XML
            error), 503 without a body, or 429, without reaching upstream.
            They come in streaks, as S3 throttles one prefix while others
            get through: a request that starts a streak on its (operation,
            bucket, first 15 characters of the key) makes the next 0 to
            streak-1 requests there throttled too.
  drop      this share of connections is closed without an answer: half
            before the request reaches upstream, half after (it took effect
            but the client never hears so).
  garbage   this share is answered with bytes that are not HTTP.

  ec2-error ACTION=CODE[@ZONE][;PARAM=VALUE...] (repeatable): a
            query-protocol request (EC2's form POST) for ACTION is answered
            with EC2's XML error CODE, without reaching upstream; with @ZONE
            only one placed in that availability zone ("@" alone: one EC2
            places itself), with ;PARAM=VALUE only one with that parameter
            (";InstanceType=m7g.xlarge").
            Capacity codes come with HTTP 500, as EC2 sends them; others 400.

GET /__proxy/stats answers {"requests", "throttled", "dropped", "garbage"}.
"""
import argparse
import http.client
import json
import os
import random
import socket
import struct
import sys
import threading
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlsplit

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
from fault_server import serve  # noqa: E402 (after its folder is on the path)

LOCK = threading.Lock()
STATS = {"requests": 0, "throttled": 0, "dropped": 0, "garbage": 0}
STREAKS = {}  # (operation, prefix) -> throttled requests still to come
HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "proxy-connection", "te", "upgrade"}


def operation(method, path, query):
    q = parse_qs(query, keep_blank_values=True)
    if method == "PUT":
        return "UploadPart" if "partNumber" in q else "PutObject"
    if method == "POST":
        return "CreateMultipartUpload" if "uploads" in q else "CompleteMultipartUpload" if "uploadId" in q else "Post"
    if method == "GET":
        return "ListObjectsV2" if "list-type" in q or path.count("/") < 2 else "GetObject"
    return method.capitalize() + "Object"


def prefix(path):
    bucket, _, key = path.lstrip("/").partition("/")
    return bucket + "/" + key[:15]


class Faults:
    def __init__(self, args):
        self.rng = random.Random(args.seed)
        self.throttle, self.drop, self.garbage, self.streak = args.throttle, args.drop, args.garbage, args.streak
        # A streak is 1..streak long (mean m); starting one with probability
        # p on a request not in one throttles p*m / (1 - p + p*m) of them.
        m = (1 + args.streak) / 2
        self.ec2_errors = []
        for rule in args.ec2_error or []:
            head, *conditions = rule.split(";")
            action, _, rest = head.partition("=")
            code, at, zone = rest.partition("@")
            params = [tuple(c.split("=", 1)) for c in conditions]
            self.ec2_errors.append((action, code, zone if at else None, params))
        self.start = self.throttle / (m * (1 - self.throttle) + self.throttle) if self.throttle > 0 else 0

    def decide(self, op, pre):
        """What to do with one request: None (forward), "throttle",
        "drop-before", "drop-after" or "garbage"."""
        with LOCK:
            STATS["requests"] += 1
            key = (op, pre)
            left = STREAKS.get(key, 0)
            if left > 0:
                STREAKS[key] = left - 1
                STATS["throttled"] += 1
                return "throttle"
            roll = self.rng.random()
            if roll < self.start:
                STREAKS[key] = self.rng.randint(1, self.streak) - 1
                STATS["throttled"] += 1
                return "throttle"
            roll -= self.start
            if roll < self.drop:
                STATS["dropped"] += 1
                return "drop-before" if roll < self.drop / 2 else "drop-after"
            roll -= self.drop
            if roll < self.garbage:
                STATS["garbage"] += 1
                return "garbage"
            return None

    def throttle_answer(self):
        with LOCK:
            kind = self.rng.random()
        if kind < 0.7:
            body = ('<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SlowDown</Code>'
                    '<Message>Please reduce your request rate.</Message><RequestId>proxy</RequestId></Error>').encode()
            return 503, body
        return (503, b"") if kind < 0.85 else (429, b"")


def ec2_error(rules, body):
    """(status, XML) of the --ec2-error rule matching a query-protocol body, or None."""
    if not rules or not body:
        return None
    form = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    action = (form.get("Action") or [""])[0]
    zone = (form.get("Placement.AvailabilityZone") or [""])[0]
    for rule_action, code, rule_zone, params in rules:
        if rule_action == action and rule_zone in (None, zone) and all(
                (form.get(k) or [""])[0] == v for k, v in params):
            with LOCK:
                STATS.setdefault("ec2_errors", 0)
                STATS["ec2_errors"] += 1
            message = {"InsufficientInstanceCapacity": "We currently do not have sufficient capacity in the "
                       "Availability Zone you requested.",
                       "VcpuLimitExceeded": "You have requested more vCPU capacity than your current vCPU limit "
                       "of 32 allows for the instance bucket that the specified instance type belongs to.",
                       "MaxSpotInstanceCountExceeded": "Max spot instance count exceeded"}.get(code, code)
            xml = ('<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>%s</Code><Message>%s'
                   '</Message></Error></Errors><RequestID>proxy</RequestID></Response>' % (code, message)).encode()
            return (500 if "Capacity" in code else 400), xml
    return None


def make_handler(upstream, faults):
    target = urlsplit(upstream)
    local = threading.local()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def finish(self):
            try:
                super().finish()
            except OSError:
                pass

        def _drop(self):
            # A reset (RST), not a polite FIN, half the time.
            if random.random() < 0.5:
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
            self.close_connection = True

        def _answer(self, status, headers, body):
            self.send_response(status)
            for k, v in headers:
                self.send_header(k, v)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _forward(self, body):
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_HEADERS}
            for attempt in range(2):
                conn = getattr(local, "conn", None)
                if conn is None:
                    conn = local.conn = http.client.HTTPConnection(target.hostname, target.port, timeout=60)
                try:
                    conn.request(self.command, self.path, body=body, headers=headers)
                    resp = conn.getresponse()
                    return resp.status, resp.getheaders(), resp.read()
                except (OSError, http.client.HTTPException):
                    conn.close()
                    local.conn = None
                    if attempt == 1:
                        raise
            raise AssertionError("unreachable")

        def handle_any(self):
            url = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            if url.path == "/__proxy/stats":
                with LOCK:
                    out = json.dumps(STATS).encode()
                return self._answer(200, [("Content-Type", "application/json"), ("Content-Length", str(len(out)))],
                                    out)
            injected = ec2_error(faults.ec2_errors, body) if self.command == "POST" else None
            if injected:
                return self._answer(injected[0], [("Content-Type", "text/xml"),
                                                  ("Content-Length", str(len(injected[1])))], injected[1])
            action = faults.decide(operation(self.command, url.path, url.query), prefix(url.path))
            if action == "drop-before":
                return self._drop()
            if action == "garbage":
                self.wfile.write(b"\x16\x03\x01 not an HTTP answer\r\n\r\n")
                self.wfile.flush()
                return self._drop()
            if action == "throttle":
                status, out = faults.throttle_answer()
                return self._answer(status, [("Content-Type", "application/xml"), ("Content-Length", str(len(out)))],
                                    out)
            status, headers, out = self._forward(body)
            if action == "drop-after":
                return self._drop()
            kept = [(k, v) for k, v in headers if k.lower() not in HOP_HEADERS and k.lower() != "content-length"]
            # A HEAD's length is the object's, not the (empty) body's.
            length = next((v for k, v in headers if k.lower() == "content-length"), "0") \
                if self.command == "HEAD" else str(len(out))
            self._answer(status, kept + [("Content-Length", length)], out)

        do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = handle_any

    return Handler


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--upstream", required=True)
    parser.add_argument("--throttle", type=float, default=0.10)
    parser.add_argument("--drop", type=float, default=0.02)
    parser.add_argument("--garbage", type=float, default=0.0)
    parser.add_argument("--streak", type=int, default=6)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--ec2-error", action="append", help="ACTION=CODE[@ZONE]")
    args = parser.parse_args()
    serve(make_handler(args.upstream, Faults(args)))


if __name__ == "__main__":
    sys.exit(main())
