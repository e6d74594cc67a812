#!/usr/bin/env python3
"""A local HTTP server that misbehaves on request, for testing hoist's HTTP
layer and retry policy without AWS.

Listens on 127.0.0.1 with a free port and prints "PORT <n>" on its first
line of stdout. Scripted per path (the query string is ignored):

  POST /__script  {"path": "/p", "actions": [ACTION, ...]}
      each request to /p takes the next action; once they run out it gets
      the default: 200 with {"sha256": ..., "length": ...} of its body.
  GET  /__stats?path=/p   {"count": n, "requests": [{method, path, query,
      length, sha256, body (when <= 64 KiB), headers, client_port, time}]}
  POST /__reset           forget scripts and stats.

An ACTION is a JSON object; all keys optional:
  status    HTTP status (default 200)
  code, message, format   an AWS error body: format "query"
            (<ErrorResponse>), "ec2" (<Response><Errors>), "xml" (S3
            <Error>) or "json" (__type); default "xml"
  request_id  the request id to put in the body and x-amzn-RequestId
  headers   extra response headers, e.g. {"Retry-After": "1"}; a "Date"
            replaces the server's own (a server whose clock differs)
  body      a literal response body
  bytes     N: respond with N bytes, byte i = i % 251 (honours Range)
  delay     seconds to wait before answering
  reset     "before": reset the connection without answering;
            "mid": send the headers and half the body of `bytes`, then reset
  stall     seconds to stop sending in the middle of the body
  raw       a string sent as is instead of an HTTP response (no status
            line: what curl calls HTTP/0.9); the connection stays open,
            so a client that sent on it again would be seen
"""
import hashlib
import json
import socket
import struct
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

LOCK = threading.Lock()
SCRIPTS = {}  # path -> [action]
STATS = {}  # path -> [request record]


def pattern(start, end):
    """Bytes [start, end) of the deterministic body: byte i = i % 251."""
    block = bytes(i % 251 for i in range(251))
    out = bytearray()
    i = start
    while i < end:
        off = i % 251
        take = min(251 - off, end - i)
        out += block[off:off + take]
        i += take
    return bytes(out)


def error_body(fmt, code, message, request_id):
    if fmt == "json":
        return json.dumps({"__type": "com.amazonaws.test#" + code, "message": message}).encode(), \
            "application/x-amz-json-1.1"
    if fmt == "query":
        text = ("<ErrorResponse><Error><Type>Sender</Type><Code>%s</Code><Message>%s</Message></Error>"
                "<RequestId>%s</RequestId></ErrorResponse>") % (code, message, request_id)
    elif fmt == "ec2":
        text = ("<Response><Errors><Error><Code>%s</Code><Message>%s</Message></Error></Errors>"
                "<RequestID>%s</RequestID></Response>") % (code, message, request_id)
    else:
        text = ("<Error><Code>%s</Code><Message>%s</Message><RequestId>%s</RequestId></Error>"
                % (code, message, request_id))
    return ('<?xml version="1.0" encoding="UTF-8"?>\n' + text).encode(), "application/xml"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, so connection reuse is visible

    def log_message(self, *args):
        pass

    def _read_body(self):
        """Reads the body in blocks, hashing as it goes (never all in memory)."""
        length = int(self.headers.get("Content-Length") or 0)
        digest = hashlib.sha256()
        small = bytearray()
        left = length
        while left > 0:
            chunk = self.rfile.read(min(left, 1 << 20))
            if not chunk:
                break
            digest.update(chunk)
            if length <= 65536:
                small += chunk
            left -= len(chunk)
        return length - left, digest.hexdigest(), small.decode("utf-8", "replace")

    def date_time_string(self, timestamp=None):
        return getattr(self, "date_override", None) or super().date_time_string(timestamp)

    def _send(self, status, body, headers):
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _reset(self):
        self.wfile.flush()
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()
        self.close_connection = True

    def finish(self):
        try:
            super().finish()
        except OSError:
            pass

    def _control(self, url, body):
        global SCRIPTS, STATS
        if url.path == "/__script":
            spec = json.loads(body)
            with LOCK:
                SCRIPTS[spec["path"]] = list(spec["actions"])
            return self._send(200, b"{}", {"Content-Type": "application/json"})
        if url.path == "/__stats":
            path = parse_qs(url.query).get("path", ["/"])[0]
            with LOCK:
                records = list(STATS.get(path, []))
            out = json.dumps({"count": len(records), "requests": records}).encode()
            return self._send(200, out, {"Content-Type": "application/json"})
        if url.path == "/__reset":
            with LOCK:
                SCRIPTS, STATS = {}, {}
            return self._send(200, b"{}", {})
        return self._send(404, b"", {})

    def handle_any(self):
        url = urlsplit(self.path)
        if url.path.startswith("/__"):
            length = int(self.headers.get("Content-Length") or 0)
            return self._control(url, self.rfile.read(length) if length else b"")
        length, sha, text = self._read_body()
        with LOCK:
            STATS.setdefault(url.path, []).append({
                "method": self.command, "path": url.path, "query": url.query, "length": length, "sha256": sha,
                "body": text,
                "headers": {k.lower(): v for k, v in self.headers.items()},
                "client_port": self.client_address[1], "time": time.time()})
            queue = SCRIPTS.get(url.path) or []
            action = queue.pop(0) if queue else {}
        self._act(action, length, sha)

    def _act(self, action, length, sha):
        if action.get("delay"):
            time.sleep(float(action["delay"]))
        if action.get("reset") == "before":
            return self._reset()
        if "raw" in action:
            self.wfile.write(action["raw"].encode())
            self.wfile.flush()
            return
        status = int(action.get("status", 200))
        request_id = action.get("request_id", "req-%d" % int(time.time() * 1000))
        headers = {"x-amzn-RequestId": request_id}
        headers.update(action.get("headers", {}))
        self.date_override = headers.pop("Date", None)
        if "code" in action:
            body, ctype = error_body(action.get("format", "xml"), action["code"], action.get("message", ""),
                                     request_id)
            headers.setdefault("Content-Type", ctype)
        elif "body" in action:
            body = action["body"].encode()
        elif "bytes" in action:
            total = int(action["bytes"])
            start, end = 0, total
            rng = self.headers.get("Range", "")
            if rng.startswith("bytes=") and status == 200:
                first, _, last = rng[6:].partition("-")
                start, end = int(first), min(total, int(last) + 1)
                status = 206
                headers["Content-Range"] = "bytes %d-%d/%d" % (start, end - 1, total)
            body = pattern(start, end)
        else:
            body = json.dumps({"sha256": sha, "length": length}).encode()
            headers.setdefault("Content-Type", "application/json")
        if action.get("reset") == "mid" or action.get("stall"):
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            half = len(body) // 2
            self.wfile.write(body[:half])
            self.wfile.flush()
            if action.get("reset") == "mid":
                return self._reset()
            time.sleep(float(action["stall"]))
            self.wfile.write(body[half:])
            return
        self._send(status, body, headers)

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = handle_any


def serve(handler):
    """Serves `handler` on 127.0.0.1 with a free port, said first on stdout
    as "PORT <n>", until interrupted (tests/e2e/fault_proxy.py shares it)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    print("PORT %d" % server.server_address[1], flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


def main():
    serve(Handler)


if __name__ == "__main__":
    sys.exit(main())
