#!/usr/bin/env python3
"""A tiny local stand-in for the EC2 instance metadata service (IMDSv2).

Serves, for an instance id given as the first path segment
(AWS_EC2_METADATA_SERVICE_ENDPOINT=http://127.0.0.1:PORT/<instance id>):
  PUT /<id>/latest/api/token                       -> a session token
  GET /<id>/latest/meta-data/instance-id           -> <id>
  GET /<id>/latest/meta-data/spot/instance-action  -> a terminate notice when
      <id> is listed (one per line) in the control file, else 404

  python3 tools/imds_stub.py --port 0 --control FILE   # prints the port
"""
import argparse
import datetime
import http.server
import json
import sys
import threading

TOKEN = "hoist-imds-stub-token"


def listed(control, instance_id):
    try:
        with open(control) as f:
            return instance_id in {line.strip() for line in f}
    except OSError:
        return False


def make_handler(control):
    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def split(self):
            parts = [p for p in self.path.split("?")[0].split("/") if p]
            if parts and parts[0].startswith("i-"):
                return parts[0], "/" + "/".join(parts[1:])
            return "", "/" + "/".join(parts)

        def reply(self, code, body=b"", ctype="text/plain"):
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_PUT(self):
            _, path = self.split()
            n = int(self.headers.get("Content-Length") or 0)
            if n:
                self.rfile.read(n)
            if path == "/latest/api/token":
                self.reply(200, TOKEN.encode())
            else:
                self.reply(404)

        def do_GET(self):
            iid, path = self.split()
            if self.headers.get("X-aws-ec2-metadata-token") != TOKEN:
                return self.reply(401)
            if path == "/latest/meta-data/instance-id" and iid:
                return self.reply(200, iid.encode())
            if path == "/latest/meta-data/spot/instance-action" and iid and listed(control, iid):
                t = (datetime.datetime.utcnow() + datetime.timedelta(minutes=2)).strftime(
                    "%Y-%m-%dT%H:%M:%SZ")
                return self.reply(200, json.dumps({"action": "terminate", "time": t}).encode(),
                                  "application/json")
            self.reply(404)
    return Handler


def start(port, control):
    """Starts the stub in a daemon thread; returns the server (server.server_port)."""
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", port), make_handler(control))
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--control", required=True, help="file listing instance ids with a spot notice")
    a = ap.parse_args()
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", a.port), make_handler(a.control))
    print(srv.server_port, flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
