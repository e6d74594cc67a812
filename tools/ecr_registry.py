#!/usr/bin/env python3
"""One account's ECR registry on loopback (DESIGN B3, B5): an HTTP front over
Debian's docker-registry (CNCF distribution) that adds what ECR does.

  python3 tools/ecr_registry.py --moto-endpoint http://127.0.0.1:PORT \\
      [--region us-east-1] --state DIR [--port 0] [--portfile F] [--pidfile F]

Starts distribution as a child (storage in DIR/storage, 127.0.0.1 at a free
port), then serves the front on 127.0.0.1:--port (0: a free one), prints
HOIST_REGISTRY=127.0.0.1:PORT once it answers and writes PORT to --portfile.
Every request and response is streamed through (bodies are never held whole,
but for manifests, which ECR caps at 4 MiB). On top of distribution, as ECR:

- every /v2/ request needs `Authorization: Basic base64(AWS:<password>)`, the
  password being what the emulated ECR's GetAuthorizationToken returns; else
  401 with ECR's Basic challenge (so `docker login --password-stdin` works);
- a repository must exist in the emulated ECR, else 404 NAME_UNKNOWN;
- the emulated ECR is the record of which tags exist: a manifest by tag that
  it does not list (never pushed, or deleted through BatchDeleteImage or
  DeleteRepository) is 404 MANIFEST_UNKNOWN, and tags/list is its list;
- a manifest PUT by tag to an immutable repository whose tag exists is 400
  TAG_INVALID (also for the very same image, as ECR answers); PUTs of one
  (repository, tag) are serialized, so of two racing pushes one wins;
- a manifest PUT that distribution accepts is registered with PutImage (same
  bytes, tag, media type and digest), so describe_images/list_images see it.

One line per request goes to DIR/front.log; distribution logs to
DIR/registry.log. SIGTERM (or SIGINT) stops the front and the child.
The keys for the emulated ECR are HOIST_REGISTRY_ACCESS_KEY_ID and
HOIST_REGISTRY_SECRET_ACCESS_KEY (default "testing"), never AWS_*.
"""
import argparse
import base64
import contextlib
import hashlib
import hmac
import http.client
import http.server
import json
import logging
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse

LOG = logging.getLogger("ecr_registry")
CHUNK = 1 << 20
MANIFEST_LIMIT = 4 << 20  # ECR's manifest size limit
HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
              "trailer", "trailers", "transfer-encoding", "upgrade"}
MANIFEST_TYPES = ("application/vnd.docker.distribution.manifest.v2+json",
                  "application/vnd.docker.distribution.manifest.list.v2+json",
                  "application/vnd.oci.image.manifest.v1+json",
                  "application/vnd.oci.image.index.v1+json")
# /v2/<name>/<kind>/<rest>; names are lowercase path components (no "manifests").
ROUTE = re.compile(r"^/v2/((?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*)"
                   r"/(manifests|blobs|tags)/(.*)$")
DIGEST = re.compile(r"^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$")
REPO_TTL = 2.0  # seconds a DescribeRepositories answer is reused for reads


def free_port():
    with contextlib.closing(socket.socket()) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def registry_binary():
    return shutil.which("docker-registry") or shutil.which("registry") or "/usr/bin/docker-registry"


class Distribution:
    """docker-registry serving DIR/storage on 127.0.0.1 at a free port."""

    def __init__(self, state, binary=None):
        self.state = state
        self.binary = binary or registry_binary()
        self.proc = None
        self.port = None

    def config(self, port):
        secret_file = os.path.join(self.state, "registry.secret")
        if not os.path.exists(secret_file):  # kept, so uploads survive a restart
            with open(secret_file, "w") as f:
                f.write(secrets.token_hex(32))
        with open(secret_file) as f:
            secret = f.read().strip()
        conf = {  # JSON is YAML
            "version": 0.1,
            "log": {"level": "info", "formatter": "text", "fields": {"service": "registry"}},
            "storage": {"filesystem": {"rootdirectory": os.path.join(self.state, "storage")},
                        "delete": {"enabled": True},
                        "maintenance": {"uploadpurging": {"enabled": False}}},
            "http": {"addr": "127.0.0.1:%d" % port, "secret": secret,
                     "headers": {"X-Content-Type-Options": ["nosniff"]}},
        }
        path = os.path.join(self.state, "registry.yml")
        with open(path, "w") as f:
            json.dump(conf, f, indent=2)
        return path

    def start(self, timeout=30):
        if not os.path.exists(self.binary):
            raise RuntimeError("%s is not installed: run .ci/install-deps.sh (apt-get install docker-registry)"
                               % self.binary)
        os.makedirs(os.path.join(self.state, "storage"), exist_ok=True)
        for _ in range(5):  # a free port can be taken before the child binds it
            port = free_port()
            log = open(os.path.join(self.state, "registry.log"), "ab")
            proc = subprocess.Popen([self.binary, "serve", self.config(port)], stdout=log,
                                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
            log.close()
            deadline = time.time() + timeout
            while proc.poll() is None and time.time() < deadline:
                try:
                    c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                    c.request("GET", "/v2/")
                    ok = c.getresponse().status == 200
                    c.close()
                    if ok:
                        self.proc, self.port = proc, port
                        return self
                except OSError:
                    pass
                time.sleep(0.1)
            if proc.poll() is None:
                proc.kill()
                proc.wait()
                raise RuntimeError("docker-registry did not answer within %ds (see %s/registry.log)"
                                   % (timeout, self.state))
        raise RuntimeError("docker-registry exited at start (see %s/registry.log)" % self.state)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class Ecr:
    """The emulated ECR (moto), as the registry service sees it."""

    def __init__(self, endpoint, region, keys):
        import boto3
        from botocore.config import Config
        self.client = boto3.client(
            "ecr", endpoint_url=endpoint, region_name=region, aws_access_key_id=keys[0],
            aws_secret_access_key=keys[1],
            config=Config(retries={"max_attempts": 4, "mode": "standard"}, connect_timeout=10,
                          read_timeout=60))
        data = self.client.get_authorization_token()["authorizationData"][0]
        self.credentials = base64.b64decode(data["authorizationToken"])  # b"AWS:<password>"
        self.account = data["proxyEndpoint"].split("//", 1)[-1].split(".", 1)[0]
        self.repo_cache = {}
        self.guard = threading.Lock()

    def repository(self, name, fresh=False):
        """The repository's description, or None when ECR has none by that name."""
        now = time.time()
        with self.guard:
            hit = self.repo_cache.get(name)
        if hit and not fresh and now - hit[0] < REPO_TTL:
            return hit[1]
        try:
            repo = self.client.describe_repositories(repositoryNames=[name])["repositories"][0]
        except self.client.exceptions.RepositoryNotFoundException:
            repo = None
        with self.guard:
            if repo:
                self.repo_cache[name] = (now, repo)
            else:
                self.repo_cache.pop(name, None)
        return repo

    def has_tag(self, name, tag):
        try:
            return bool(self.client.describe_images(repositoryName=name, imageIds=[{"imageTag": tag}])
                        .get("imageDetails"))
        except (self.client.exceptions.ImageNotFoundException,
                self.client.exceptions.RepositoryNotFoundException):
            return False

    def tags(self, name):
        out = set()
        for page in self.client.get_paginator("list_images").paginate(repositoryName=name):
            out.update(i["imageTag"] for i in page["imageIds"] if i.get("imageTag"))
        return sorted(out)

    @staticmethod
    def immutable(repo, tag):
        mode = repo.get("imageTagMutability", "MUTABLE")
        if mode in ("IMMUTABLE", "MUTABLE"):
            return mode == "IMMUTABLE"
        # *_WITH_EXCLUSION: the filters (wildcards) name the exceptions
        excluded = any(re.fullmatch(re.escape(f["filter"]).replace(r"\*", ".*"), tag)
                       for f in repo.get("imageTagMutabilityExclusionFilters") or [])
        return (mode == "IMMUTABLE_WITH_EXCLUSION") != excluded

    def put_image(self, name, tag, manifest, media_type, digest):
        kw = dict(repositoryName=name, imageManifest=manifest.decode("utf-8"), imageDigest=digest)
        if tag:
            kw["imageTag"] = tag
        if media_type:
            kw["imageManifestMediaType"] = media_type
        try:
            self.client.put_image(**kw)
            return "registered"
        except self.client.exceptions.ImageAlreadyExistsException:
            return "already registered"

    def delete_digest(self, name, digest):
        self.client.batch_delete_image(repositoryName=name, imageIds=[{"imageDigest": digest}])


class Front(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64

    def __init__(self, port, upstream_port, ecr):
        self.upstream_port = upstream_port
        self.ecr = ecr
        self.tag_locks = {}
        self.tag_locks_guard = threading.Lock()
        super().__init__(("127.0.0.1", port), Handler)

    def tag_lock(self, name, tag):
        with self.tag_locks_guard:
            return self.tag_locks.setdefault((name, tag), threading.Lock())


class BodyError(Exception):
    pass


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "hoist-ecr-registry"

    def log_message(self, fmt, *args):  # the one line per request is ours
        pass

    # ---- request bodies ----
    def body_chunks(self):
        """The request body, as it arrives (plain or chunked); once."""
        if self.body_taken:
            return
        self.body_taken = True
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            while True:
                line = self.rfile.readline(65537)
                try:
                    size = int(line.split(b";", 1)[0].strip(), 16)
                except ValueError:
                    raise BodyError("bad chunk size line %r" % line[:40])
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return
                while size:
                    data = self.rfile.read(min(size, CHUNK))
                    if not data:
                        raise BodyError("the client closed mid-chunk")
                    size -= len(data)
                    yield data
                self.rfile.readline()
        else:
            left = int(self.headers.get("Content-Length") or 0)
            while left > 0:
                data = self.rfile.read(min(left, CHUNK))
                if not data:
                    raise BodyError("the client closed mid-body")
                left -= len(data)
                yield data

    def has_body(self):
        return not self.body_taken and ("chunked" in self.headers.get("Transfer-Encoding", "").lower()
                or int(self.headers.get("Content-Length") or 0) > 0)

    def drain(self, limit=8 << 20):
        """Reads away a body we refuse; a big one closes the connection instead."""
        if not self.has_body():
            return
        if int(self.headers.get("Content-Length") or 0) > limit or \
                "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self.close_connection = True
            return
        for _ in self.body_chunks():
            pass

    # ---- responses of our own ----
    def reply(self, code, payload, extra=()):
        body = json.dumps(payload).encode() if payload is not None else b""
        self.drain()
        self.send_response(code)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Docker-Distribution-API-Version", "registry/2.0")
        self.send_header("Content-Length", str(len(body)))
        for k, v in extra:
            self.send_header(k, v)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self.status = code

    def error(self, code, err, message, extra=()):
        self.note = err
        self.reply(code, {"errors": [{"code": err, "message": message}]}, extra)

    # ---- dispatch ----
    def do_any(self):
        t0 = time.time()
        self.status, self.note, self.sent, self.body_taken = None, "", 0, False
        try:
            self.route()
        except BodyError as e:
            self.close_connection = True
            self.note = "body: %s" % e
        except (BrokenPipeError, ConnectionResetError) as e:
            self.close_connection = True
            self.note = "client gone: %s" % e
        except Exception as e:  # noqa: BLE001 - one request fails, not the registry
            LOG.exception("%s %s", self.command, self.path)
            self.close_connection = True
            if self.status is None:
                with contextlib.suppress(OSError):
                    self.error(500, "UNKNOWN", "registry front: %s" % e)
        LOG.info("%s %s -> %s %dB %.3fs%s", self.command, self.path, self.status, self.sent,
                 time.time() - t0, " (%s)" % self.note if self.note else "")

    do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = do_any

    def authorized(self):
        auth = self.headers.get("Authorization", "")
        if not auth[:6].lower() == "basic ":
            return False
        try:
            given = base64.b64decode(auth[6:].strip(), validate=True)
        except ValueError:
            return False
        return hmac.compare_digest(given, self.server.ecr.credentials)

    def route(self):
        url = urllib.parse.urlsplit(self.path)
        path = url.path
        if not (path == "/v2" or path.startswith("/v2/")):
            return self.error(404, "NOT_FOUND", "not a registry API path")
        if not self.authorized():
            port = self.server.server_address[1]
            return self.error(401, "UNAUTHORIZED", "authentication required", extra=[
                ("WWW-Authenticate",
                 'Basic realm="https://127.0.0.1:%d/",service="ecr.amazonaws.com"' % port)])
        m = ROUTE.match(path)
        if not m:
            if path.startswith("/v2/") and path not in ("/v2/", "/v2/_catalog"):
                return self.error(404, "NAME_INVALID", "invalid repository name in %s" % path)
            return self.forward()
        name, kind, rest = m.groups()
        ecr = self.server.ecr
        writing_manifest = kind == "manifests" and self.command == "PUT"
        repo = ecr.repository(name, fresh=writing_manifest)
        if repo is None:
            return self.error(404, "NAME_UNKNOWN", "The repository with name '%s' does not exist in the "
                              "registry with id '%s'" % (name, ecr.account))
        if kind == "tags":
            return self.tags_list(name, url.query)
        if kind == "manifests":
            is_tag = not DIGEST.match(rest)
            if self.command in ("GET", "HEAD") and is_tag and not ecr.has_tag(name, rest):
                return self.error(404, "MANIFEST_UNKNOWN", "Requested image not found")
            if self.command == "PUT":
                return self.put_manifest(name, rest if is_tag else None, repo)
            if self.command == "DELETE":
                return self.forward(after=lambda st, h: st == 202 and not is_tag and
                                    self.mark(ecr.delete_digest(name, rest) or "deleted from ECR"))
        return self.forward()

    def mark(self, note):
        self.note = note
        return True

    def tags_list(self, name, query):
        q = urllib.parse.parse_qs(query)
        tags = self.server.ecr.tags(name)
        if q.get("last"):
            tags = [t for t in tags if t > q["last"][0]]
        extra = []
        if q.get("n"):
            n = int(q["n"][0])
            if len(tags) > n:
                tags = tags[:n]
                extra.append(("Link", '</v2/%s/tags/list?n=%d&last=%s>; rel="next"'
                              % (name, n, urllib.parse.quote(tags[-1]))))
        self.reply(200, {"name": name, "tags": tags}, extra)

    def put_manifest(self, name, tag, repo):
        ecr = self.server.ecr
        if int(self.headers.get("Content-Length") or 0) > MANIFEST_LIMIT:
            return self.error(400, "MANIFEST_INVALID", "the manifest exceeds %d bytes" % MANIFEST_LIMIT)
        body = b"".join(self.body_chunks())
        if len(body) > MANIFEST_LIMIT:
            return self.error(400, "MANIFEST_INVALID", "the manifest exceeds %d bytes" % MANIFEST_LIMIT)
        media_type = self.headers.get("Content-Type", "").split(";")[0].strip() or None
        if tag is None:  # by digest: nothing to serialize, an untagged image
            return self.forward(body=body, after=lambda st, h: st == 201 and self.mark(ecr.put_image(
                name, None, body, media_type, h.get("Docker-Content-Digest") or self.digest(body))))
        with self.server.tag_lock(name, tag):
            if ecr.immutable(repo, tag) and ecr.has_tag(name, tag):
                return self.error(400, "TAG_INVALID", "The image tag '%s' already exists in the '%s' "
                                  "repository and cannot be overwritten because the repository is "
                                  "immutable." % (tag, name))
            self.forward(body=body, after=lambda st, h: st == 201 and self.mark(ecr.put_image(
                name, tag, body, media_type, h.get("Docker-Content-Digest") or self.digest(body))))

    @staticmethod
    def digest(body):
        return "sha256:" + hashlib.sha256(body).hexdigest()

    # ---- streaming to distribution ----
    def forward(self, body=None, after=None):
        """Sends this request to distribution (body: bytes already read, else
        streamed from the client) and streams the answer back. after(status,
        headers) runs before the answer is sent, so a failure there is the
        client's answer (500)."""
        up = http.client.HTTPConnection("127.0.0.1", self.server.upstream_port, timeout=600)
        try:
            up.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
            chunked = body is None and "chunked" in self.headers.get("Transfer-Encoding", "").lower()
            for k, v in self.headers.items():
                lk = k.lower()
                if lk in HOP_BY_HOP or lk in ("authorization", "content-length", "expect"):
                    continue
                up.putheader(k, v)
            if "Host" not in self.headers:
                up.putheader("Host", "127.0.0.1:%d" % self.server.server_address[1])
            if body is not None:
                up.putheader("Content-Length", str(len(body)))
            elif chunked:
                up.putheader("Transfer-Encoding", "chunked")
            elif self.headers.get("Content-Length"):
                up.putheader("Content-Length", self.headers["Content-Length"])
            up.endheaders()
            if body is not None:
                up.send(body)
            else:
                for data in self.body_chunks():
                    up.send(b"%x\r\n%s\r\n" % (len(data), data) if chunked else data)
                if chunked:
                    up.send(b"0\r\n\r\n")
            resp = up.getresponse()
            if after:
                after(resp.status, resp.headers)
            self.relay(resp)
        except (ConnectionRefusedError, http.client.HTTPException, socket.timeout) as e:
            if self.status is None:
                self.close_connection = True
                self.error(502, "UNAVAILABLE", "the registry behind the front failed: %s" % e)
        finally:
            up.close()

    def relay(self, resp):
        no_body = self.command == "HEAD" or resp.status in (204, 304) or 100 <= resp.status < 200
        self.send_response_only(resp.status, resp.reason)
        self.status = resp.status
        front = self.headers.get("Host") or "127.0.0.1:%d" % self.server.server_address[1]
        for k, v in resp.getheaders():
            lk = k.lower()
            if lk in HOP_BY_HOP:
                continue
            if lk == "location":
                u = urllib.parse.urlsplit(v)
                if u.netloc == "127.0.0.1:%d" % self.server.upstream_port:
                    v = urllib.parse.urlunsplit(("http", front) + tuple(u[2:]))
            self.send_header(k, v)
        stream_chunked = not no_body and resp.chunked
        until_close = not no_body and not resp.chunked and resp.length is None
        if stream_chunked:
            self.send_header("Transfer-Encoding", "chunked")
        if until_close or self.close_connection:
            self.close_connection = True
            self.send_header("Connection", "close")
        self.end_headers()
        if no_body:
            return
        while True:
            data = resp.read(CHUNK)
            if not data:
                break
            self.sent += len(data)
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data) if stream_chunked else data)
        if stream_chunked:
            self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()


class EcrRegistry:
    """The front and its distribution child, in this process.

        reg = EcrRegistry(moto_endpoint, "us-east-1", state_dir).start()
        reg.address  # "127.0.0.1:PORT"
        reg.stop()
    """

    def __init__(self, moto_endpoint, region, state, port=0, keys=None, binary=None):
        self.moto_endpoint, self.region, self.want_port = moto_endpoint, region, port
        self.state = os.path.abspath(state)
        self.keys = keys or (os.environ.get("HOIST_REGISTRY_ACCESS_KEY_ID", "testing"),
                             os.environ.get("HOIST_REGISTRY_SECRET_ACCESS_KEY", "testing"))
        self.distribution = Distribution(self.state, binary)
        self.front = None
        self.thread = None

    @property
    def port(self):
        return self.front.server_address[1]

    @property
    def address(self):
        return "127.0.0.1:%d" % self.port

    def start(self):
        os.makedirs(self.state, exist_ok=True)
        ecr = Ecr(self.moto_endpoint, self.region, self.keys)
        self.distribution.start()
        try:
            self.front = Front(self.want_port, self.distribution.port, ecr)
        except Exception:
            self.distribution.stop()
            raise
        self.thread = threading.Thread(target=self.front.serve_forever, kwargs={"poll_interval": 0.2},
                                       daemon=True)
        self.thread.start()
        LOG.info("front on %s, distribution on 127.0.0.1:%d, ECR at %s (account %s)", self.address,
                 self.distribution.port, self.moto_endpoint, ecr.account)
        return self

    def stop(self):
        if self.front:
            self.front.shutdown()
            self.front.server_close()
        self.distribution.stop()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--moto-endpoint", required=True, help="the emulated AWS endpoint (moto)")
    ap.add_argument("--region", default="us-east-1")
    ap.add_argument("--state", required=True, help="storage and logs")
    ap.add_argument("--port", type=int, default=0, help="the front's port (0: a free one)")
    ap.add_argument("--portfile", help="written with the port once the front answers")
    ap.add_argument("--pidfile")
    ap.add_argument("--registry-binary", help="distribution (default docker-registry on PATH)")
    args = ap.parse_args()
    os.makedirs(args.state, exist_ok=True)
    logging.basicConfig(filename=os.path.join(args.state, "front.log"), level=logging.INFO,
                        format="%(asctime)s %(message)s")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    try:
        reg = EcrRegistry(args.moto_endpoint, args.region, args.state, args.port,
                          binary=args.registry_binary).start()
    except Exception as e:  # noqa: BLE001 - one clear line, not a traceback
        LOG.exception("could not start")
        print("ecr_registry.py: %s" % e, file=sys.stderr)
        return 1
    try:
        if args.pidfile:
            with open(args.pidfile, "w") as f:
                f.write(str(os.getpid()))
        if args.portfile:
            with open(args.portfile + ".tmp", "w") as f:
                f.write(str(reg.port))
            os.replace(args.portfile + ".tmp", args.portfile)
        print("HOIST_REGISTRY=%s" % reg.address, flush=True)
        while not stop.wait(0.5):
            if reg.distribution.proc.poll() is not None:
                LOG.error("docker-registry exited (%s): stopping", reg.distribution.proc.returncode)
                print("ecr_registry.py: docker-registry exited (see %s/registry.log)" % args.state,
                      file=sys.stderr)
                return 1
        return 0
    finally:
        reg.stop()
        for f in (args.pidfile, args.portfile):
            if f:
                with contextlib.suppress(OSError):
                    os.unlink(f)


if __name__ == "__main__":
    sys.exit(main())
