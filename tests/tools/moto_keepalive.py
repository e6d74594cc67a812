#!/usr/bin/env python3
"""moto_server over HTTP/1.1 keep-alive, as S3 and every AWS endpoint serve.

    moto_keepalive.py [-H 127.0.0.1] [-p PORT]

The same moto application `moto_server` runs (moto.server's
DomainDispatcherApplication), on the same werkzeug server, with one
difference: werkzeug's handler ends every response with `Connection: close`
("keep-alive connections aren't handled well by Python's http.server"), so a
client opens a new TCP connection for every request. Real AWS endpoints keep
connections open, and on loopback the kernel charges both ends of each
handshake and teardown to the client, so `moto_server` inflates a client's
CPU time by a cost that no real endpoint imposes.

Keeping the connection is safe when the next request line starts where this
request's body ends. So:
  * a request body with a Content-Length is read to its end after the
    response (moto does not always read it: an error answered early);
  * werkzeug's own drain loop, which reads whatever follows the response
    (the next request, on a kept connection), is pointed at a descriptor
    that never has data;
  * a chunked request body, a client saying `Connection: close` or an
    HTTP/1.0 client still get `Connection: close`.

An idle connection is closed after --idle-timeout seconds (120 by
default), as S3 closes idle connections: a short one makes a client meet
connections the server has already closed.

Besides werkzeug's access log line per request, it logs one line per new
TCP connection ("CONNECTION <n> from <port>") to stderr, so a test can count
how many connections a client opened.

--check-bucket-owner adds S3's expected-bucket-owner check (BucketOwnerCheck).
"""
import argparse
import itertools
import os
import sys
import threading

from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wsgi import LimitedStream

# How moto is served, by name: "moto_server" (moto's own, a connection per
# request) or "keepalive" (this file). The harness and the bench start it so.
SERVERS = {
    "moto_server": ["moto_server"],
    "keepalive": [sys.executable, os.path.abspath(__file__)],
}
# The start of the line logged for each TCP connection.
CONNECTION_LINE = "CONNECTION "


def connections_in(log_text):
    """TCP connections a keepalive server's log records."""
    return sum(1 for line in log_text.splitlines() if line.startswith(CONNECTION_LINE))


# A pipe whose write end nobody writes: never readable.
_QUIET_READ, _QUIET_WRITE = os.pipe()
_CONNECTIONS = itertools.count(1)
_LOG_LOCK = threading.Lock()


class _NeverReadable:
    """Stands in for the socket in werkzeug's post-response drain loop."""

    def fileno(self):
        return _QUIET_READ


class KeepAliveHandler(WSGIRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 120.0  # an idle kept connection is closed after this many seconds

    def setup(self):
        super().setup()
        n = next(_CONNECTIONS)
        with _LOG_LOCK:
            sys.stderr.write(f"{CONNECTION_LINE}{n} from {self.client_address[1]}\n")
            sys.stderr.flush()

    def _must_close(self):
        return (self.request_version != "HTTP/1.1"
                or (self.headers.get("Connection") or "").strip().lower() == "close"
                or self._body is None)

    def send_header(self, keyword, value):
        if keyword.lower() == "connection" and value.lower() == "close" and not self._must_close():
            return  # werkzeug says close on every response; keep this one
        super().send_header(keyword, value)

    def make_environ(self):
        environ = super().make_environ()
        self._body = None
        if not environ.get("wsgi.input_terminated"):  # not chunked: the length is known
            length = int(environ.get("CONTENT_LENGTH") or 0)
            self._body = LimitedStream(self.rfile, length)
            environ["wsgi.input"] = self._body
        self._socket = self.connection
        self.connection = _NeverReadable()
        return environ

    def run_wsgi(self):
        self._body = None
        self._socket = None
        try:
            super().run_wsgi()
            if self._body is not None:
                self._body.exhaust()  # the next request line starts after this body
        except OSError:
            self.close_connection = True
        finally:
            if self._socket is not None:
                self.connection = self._socket
        if self._must_close():
            self.close_connection = True


# The start of the line --check-bucket-owner logs for each S3 request.
OWNER_LINE = "S3-OWNER "


class BucketOwnerCheck:
    """S3's x-amz-expected-bucket-owner check, which moto does not make
    (moto 5 serves any account's bucket to any other): a request naming an
    owner is refused with 403 AccessDenied when another account owns the
    bucket. Each S3 request is logged as "S3-OWNER <method> <bucket> <owner
    sent, or ->", so a test can tell which requests carried the header."""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        signed = environ.get("HTTP_AUTHORIZATION", "") + environ.get("QUERY_STRING", "")
        if "/s3/aws4_request" not in signed and "%2Fs3%2Faws4_request" not in signed:
            return self.app(environ, start_response)
        bucket = environ.get("PATH_INFO", "").lstrip("/").split("/", 1)[0]
        expected = environ.get("HTTP_X_AMZ_EXPECTED_BUCKET_OWNER")
        with _LOG_LOCK:
            sys.stderr.write("%s%s %s %s\n" % (OWNER_LINE, environ.get("REQUEST_METHOD"), bucket or "-",
                                                 expected or "-"))
            sys.stderr.flush()
        if expected and bucket:
            from moto.s3.models import s3_backends
            owner = s3_backends.bucket_accounts.get(bucket)
            if owner and owner[1] != expected:
                body = (b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code>'
                        b'<Message>Access Denied</Message><RequestId>owner-check</RequestId></Error>')
                start_response("403 Forbidden", [("Content-Type", "application/xml"),
                                                 ("Content-Length", str(len(body)))])
                return [body]
        return self.app(environ, start_response)


def owner_lines(log_text):
    """(method, bucket, owner sent or None) of each S3 request a server run
    with --check-bucket-owner logged."""
    out = []
    for line in log_text.splitlines():
        if line.startswith(OWNER_LINE):
            method, bucket, owner = line[len(OWNER_LINE):].split(" ")
            out.append((method, bucket, None if owner == "-" else owner))
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-H", "--host", default="127.0.0.1")
    ap.add_argument("-p", "--port", type=int, default=int(os.environ.get("MOTO_PORT", 5000)))
    ap.add_argument("--idle-timeout", type=float, default=KeepAliveHandler.timeout,
                    help="close a kept connection idle this many seconds (S3: about 20)")
    ap.add_argument("--check-bucket-owner", action="store_true",
                    help="refuse S3 requests whose x-amz-expected-bucket-owner is not the bucket's owner")
    args = ap.parse_args(argv)
    KeepAliveHandler.timeout = args.idle_timeout
    os.environ.setdefault("MOTO_PORT", str(args.port))  # as moto_server does
    # Imported here so --help works quickly and without moto's start-up cost.
    from moto.server import DomainDispatcherApplication, create_backend_app

    app = DomainDispatcherApplication(create_backend_app)
    if args.check_bucket_owner:
        app = BucketOwnerCheck(app)
    server = make_server(args.host, args.port, app, threaded=True, request_handler=KeepAliveHandler)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
