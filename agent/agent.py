#!/usr/bin/env python3
"""hoist instance agent: stages a job, runs it, ships logs and outputs.

Driven by agent/bootstrap.sh (see there and docs/job-spec.md).  Python 3.9+
standard library only: Amazon Linux 2023 ships python3 without boto3.

Commands (all read HOIST_BUCKET, HOIST_JOB_ID, HOIST_REGION, HOIST_WORK):
  init                 write phase booting, fetch job.json, print max_runtime_seconds
  run                  staging, building, running, uploading, terminal phase
  finalize PHASE MSG   if no terminal status was written yet: upload partial
                       outputs and logs, write terminal PHASE with error MSG
"""
import base64
import concurrent.futures
import contextlib
import datetime
import hashlib
import hmac
import http.client
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET

TERMINAL = ("succeeded", "failed", "cancelled", "preempted", "timed_out")
# Objects above the threshold move in parts, several at once: one stream
# from S3 gives far less than an instance's network can take.
MULTIPART_THRESHOLD = 64 * 1024 * 1024
PART_SIZE = 16 * 1024 * 1024
PART_THREADS = 8  # parts in flight per large object...
PARTS_IN_FLIGHT = threading.BoundedSemaphore(16)  # ...and in all (an upload holds its parts in memory)
MAX_PARTS = 10000  # S3's limit per multipart upload
THREADS = int(os.environ.get("HOIST_TRANSFER_THREADS", "8"))
POLL = float(os.environ.get("HOIST_POLL_SECONDS", "2"))
KILL_GRACE = float(os.environ.get("HOIST_KILL_GRACE", "10"))
GPU_WAIT = 180.0  # seconds a GPU job waits for the NVIDIA driver after boot


def part_size_for(size):
    """PART_SIZE, or more (whole MiB) for an object that would need more than
    S3's 10,000 parts: 16 MiB parts stop at 156 GiB."""
    mib = 1024 * 1024
    if size <= PART_SIZE * MAX_PARTS:
        return PART_SIZE
    per_part = -(-size // MAX_PARTS)  # ceil(size / MAX_PARTS)
    return -(-per_part // mib) * mib  # rounded up to a whole MiB


def in_parts(size, fn):
    """Calls fn(number, offset, length) for each part of an object of `size`
    bytes, PART_THREADS at once; returns the results in part order."""
    part = part_size_for(size)
    parts = [(i + 1, off, min(part, size - off)) for i, off in enumerate(range(0, size, part))]
    def run(p):
        with PARTS_IN_FLIGHT:
            return fn(*p)
    with concurrent.futures.ThreadPoolExecutor(max(1, min(PART_THREADS, len(parts)))) as ex:
        return list(ex.map(run, parts))


def log(msg):
    ts = datetime.datetime.utcnow().strftime("%H:%M:%S")
    sys.stderr.write("[agent %s] %s\n" % (ts, msg))
    sys.stderr.flush()


def now_iso():
    return datetime.datetime.utcnow().strftime("%Y-%m-%dT%H:%M:%SZ")


class Abort(Exception):
    """The job must stop: reason is a terminal phase (cancelled, preempted, timed_out)."""

    def __init__(self, reason, message):
        Exception.__init__(self, message)
        self.reason = reason


class AwsError(Exception):
    def __init__(self, status, code, message):
        Exception.__init__(self, "%s %s: %s" % (status, code, message))
        self.status = status
        self.code = code


RETRY_CODES = {"Throttling", "ThrottlingException", "SlowDown", "RequestTimeout",
               "RequestLimitExceeded", "InternalError", "ServiceUnavailable",
               "ExpiredToken", "ExpiredTokenException", "RequestExpired"}
# IAM is eventually consistent: the role, its per-job policy and the instance
# profile are made seconds before launch, and for a while after boot S3 and
# ECR may refuse this instance's credentials, or IMDS may not have them yet.
# Within IAM_GRACE seconds of the agent's start such refusals are waited out
# (the AWS SDKs' advice for new roles); after it they are real, and fail at once.
PROPAGATION_CODES = {"403", "AccessDenied", "AccessDeniedException", "InvalidAccessKeyId",
                     "InvalidClientTokenId", "UnrecognizedClientException", "InvalidToken"}
IAM_GRACE = 120.0
STARTED = time.monotonic()


class NoCredentials(Exception):
    """IMDS has no credentials for this instance (yet)."""


def propagating(err):
    """True when err may be IAM still propagating, and the grace has not run out."""
    if time.monotonic() - STARTED >= IAM_GRACE:
        return False
    if isinstance(err, NoCredentials):
        return True
    return isinstance(err, AwsError) and err.status == 403 and err.code in PROPAGATION_CODES


def retrying(fn, what, attempts=8, base=0.25, cap=20.0):
    """Calls fn() with exponential back-off and full jitter on transient
    errors; an error that may be IAM propagation is retried every few seconds
    while the grace lasts, without spending the attempts."""
    attempt = 0
    waits = 0
    while True:
        try:
            return fn()
        except (AwsError, NoCredentials) as e:
            if propagating(e):
                waits += 1
                delay = random.uniform(1.0, 3.0)
                log("%s refused, IAM may still be propagating; again in %.1fs (%d): %s"
                    % (what, delay, waits, e))
                time.sleep(delay)
                continue
            if isinstance(e, NoCredentials):
                raise
            transient = e.status >= 500 or e.status == 429 or e.code in RETRY_CODES
            attempt += 1
            if not transient or attempt >= attempts:
                raise
            err = e
        except (urllib.error.URLError, http.client.HTTPException, ConnectionError,
                socket.timeout, TimeoutError) as e:
            attempt += 1
            if attempt >= attempts:
                raise
            err = e
        delay = random.uniform(0, min(cap, base * (2 ** attempt)))
        log("retry %d/%d of %s in %.2fs: %s" % (attempt, attempts, what, delay, err))
        time.sleep(delay)


# ---------------------------------------------------------------- IMDS ------

class Imds:
    """IMDSv2 client; quietly disabled when no metadata service is reachable."""

    def __init__(self):
        ep = os.environ.get("AWS_EC2_METADATA_SERVICE_ENDPOINT")
        if ep:
            self.endpoint = ep.rstrip("/")
        elif os.environ.get("AWS_ENDPOINT_URL") or os.environ.get("HOIST_RUNTIME") == "process":
            self.endpoint = None  # emulated host without an IMDS stand-in
        else:
            self.endpoint = "http://169.254.169.254"
        self.token = None
        self.token_expiry = 0
        self.failures = 0

    def _token(self):
        if self.token and time.time() < self.token_expiry - 60:
            return self.token
        req = urllib.request.Request(self.endpoint + "/latest/api/token", method="PUT",
                                     headers={"X-aws-ec2-metadata-token-ttl-seconds": "21600"})
        with urllib.request.urlopen(req, timeout=2) as r:
            self.token = r.read().decode()
        self.token_expiry = time.time() + 21600
        return self.token

    def get(self, path):
        """Returns the text at path, None on 404 or when IMDS is unavailable."""
        if not self.endpoint or self.failures >= 3:
            return None
        try:
            req = urllib.request.Request(self.endpoint + path,
                                         headers={"X-aws-ec2-metadata-token": self._token()})
            with urllib.request.urlopen(req, timeout=2) as r:
                self.failures = 0
                return r.read().decode()
        except urllib.error.HTTPError as e:
            if e.code == 401:
                self.token = None
            if e.code == 404:
                self.failures = 0
            return None
        except (urllib.error.URLError, OSError, http.client.HTTPException):
            self.failures += 1
            return None


IMDS = Imds()


# --------------------------------------------------------- credentials ------

class Credentials:
    def __init__(self):
        self.lock = threading.Lock()
        self.value = None
        self.expiry = None

    def get(self):
        with self.lock:
            ak = os.environ.get("AWS_ACCESS_KEY_ID")
            sk = os.environ.get("AWS_SECRET_ACCESS_KEY")
            if ak and sk:
                return ak, sk, os.environ.get("AWS_SESSION_TOKEN")
            if self.value and self.expiry and time.time() < self.expiry - 300:
                return self.value
            role = IMDS.get("/latest/meta-data/iam/security-credentials/")
            if not role:
                raise NoCredentials("no AWS credentials: no env keys and no instance role in IMDS")
            doc = json.loads(IMDS.get("/latest/meta-data/iam/security-credentials/" +
                                      role.strip().splitlines()[0]) or "{}")
            if not doc.get("AccessKeyId") or not doc.get("SecretAccessKey"):
                raise NoCredentials("IMDS names role %s but has no credentials for it" % role.strip())
            self.value = (doc["AccessKeyId"], doc["SecretAccessKey"], doc.get("Token"))
            exp = doc.get("Expiration")
            self.expiry = (datetime.datetime.strptime(exp, "%Y-%m-%dT%H:%M:%SZ")
                           .replace(tzinfo=datetime.timezone.utc).timestamp()
                           if exp else time.time() + 900)
            return self.value

    def invalidate(self):
        with self.lock:
            self.value = None


CREDS = Credentials()


# --------------------------------------------------------------- SigV4 ------

def uri_encode(s, safe="-_.~"):
    return urllib.parse.quote(s, safe=safe)


def s3_path(bucket, key=""):
    """Canonical (already encoded) path-style URI; S3 does not double-encode."""
    return "/" + uri_encode(bucket) + "/" + uri_encode(key, safe="-_.~/")


def sign_headers(method, host, path, query, headers, payload_hash, service, region,
                 creds, amz_date=None):
    """Returns the headers to send (SigV4).  path is the encoded canonical URI."""
    ak, sk, token = creds
    amz_date = amz_date or datetime.datetime.utcnow().strftime("%Y%m%dT%H%M%SZ")
    date = amz_date[:8]
    h = {k.lower(): str(v).strip() for k, v in headers.items()}
    h["host"] = host
    h["x-amz-date"] = amz_date
    h["x-amz-content-sha256"] = payload_hash
    if token:
        h["x-amz-security-token"] = token
    names = sorted(h)
    canonical_headers = "".join("%s:%s\n" % (n, " ".join(h[n].split())) for n in names)
    signed = ";".join(names)
    cq = "&".join("%s=%s" % (uri_encode(k), uri_encode(str(v)))
                  for k, v in sorted(query.items()))
    creq = "\n".join([method, path, cq, canonical_headers, signed, payload_hash])
    scope = "%s/%s/%s/aws4_request" % (date, region, service)
    sts = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope,
                     hashlib.sha256(creq.encode()).hexdigest()])
    k = hmac.new(("AWS4" + sk).encode(), date.encode(), hashlib.sha256).digest()
    for part in (region, service, "aws4_request"):
        k = hmac.new(k, part.encode(), hashlib.sha256).digest()
    sig = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
    h["authorization"] = "AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s" % (
        ak, scope, signed, sig)
    return h


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *a, **k):
        return None


OPENER = urllib.request.build_opener(NoRedirect())


def http_call(method, url, headers, body=None, timeout=120):
    """One HTTP exchange; returns (status, headers, response object or bytes)."""
    req = urllib.request.Request(url, data=body, method=method, headers=headers)
    try:
        return OPENER.open(req, timeout=timeout)
    except urllib.error.HTTPError as e:
        data = e.read() or b""
        code, msg = str(e.code), data[:300].decode("utf-8", "replace")
        try:
            if data.startswith(b"{"):
                doc = json.loads(data)
                code = (doc.get("__type") or doc.get("code") or code).split("#")[-1]
                msg = doc.get("message") or doc.get("Message") or msg
            elif data:
                root = ET.fromstring(data)
                code = root.findtext("Code") or code
                msg = root.findtext("Message") or msg
        except (ValueError, ET.ParseError):
            pass
        if e.code == 404 and code == "404":
            code = "NotFound"
        if code in ("ExpiredToken", "ExpiredTokenException"):
            CREDS.invalidate()
        raise AwsError(e.code, code, msg)


def endpoint_for(service, region):
    ep = (os.environ.get("AWS_ENDPOINT_URL_" + service.upper()) or
          os.environ.get("AWS_ENDPOINT_URL"))
    if ep:
        return ep.rstrip("/")
    if service == "s3":
        return "https://s3.%s.amazonaws.com" % region
    return "https://api.ecr.%s.amazonaws.com" % region


class S3:
    def __init__(self, region):
        self.region = region
        self.endpoint = endpoint_for("s3", region)
        u = urllib.parse.urlsplit(self.endpoint)
        self.host = u.netloc
        self.base = u.scheme + "://" + u.netloc + u.path.rstrip("/")
        self.prefix_path = u.path.rstrip("/")

    def request(self, method, bucket, key="", query=None, headers=None, body=None,
                payload_hash=None, stream=False):
        query = query or {}
        headers = dict(headers or {})
        if body is not None and not any(k.lower() == "content-type" for k in headers):
            headers["Content-Type"] = "application/octet-stream"  # urllib would say form data
        path = self.prefix_path + s3_path(bucket, key)
        if payload_hash is None:
            payload_hash = hashlib.sha256(body if isinstance(body, bytes) else b"").hexdigest()
        h = sign_headers(method, self.host, path, query, headers or {}, payload_hash,
                         "s3", self.region, CREDS.get())
        url = self.base + path[len(self.prefix_path):]
        if query:
            url += "?" + "&".join("%s=%s" % (uri_encode(k), uri_encode(str(v)))
                                  for k, v in sorted(query.items()))
        h.pop("host")
        resp = http_call(method, url, h, body)
        if stream:
            return resp
        with resp:
            return resp.status, dict(resp.headers), resp.read()

    # ---- object operations (each retried) ----
    def get_bytes(self, bucket, key):
        """Returns the object's bytes, or None when it does not exist."""
        def once():
            try:
                return self.request("GET", bucket, key)[2]
            except AwsError as e:
                if e.status == 404:
                    return None
                raise
        return retrying(once, "GET s3://%s/%s" % (bucket, key))

    def exists(self, bucket, key):
        def once():
            try:
                self.request("HEAD", bucket, key)
                return True
            except AwsError as e:
                if e.status == 404:
                    return False
                raise
        return retrying(once, "HEAD s3://%s/%s" % (bucket, key))

    def put_bytes(self, bucket, key, data, content_type="application/octet-stream"):
        retrying(lambda: self.request("PUT", bucket, key, headers={"Content-Type": content_type},
                                      body=data), "PUT s3://%s/%s" % (bucket, key))

    def download(self, bucket, key, dest, sha256=None, size=None):
        """Streams an object to dest (via a temporary file), verifying sha256/size;
        a large one in ranges fetched at once."""
        tmp = dest + ".hoist-part"
        try:
            if size is not None and size > MULTIPART_THRESHOLD:
                return self._download_ranges(bucket, key, tmp, dest, sha256, size)
            return self._download_stream(bucket, key, tmp, dest, sha256, size)
        except BaseException:
            # Not a half-written (or, for ranges, a sparse full-size) file
            # left beside the inputs on a failure.
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    def _download_stream(self, bucket, key, tmp, dest, sha256, size):
        def once():
            h = hashlib.sha256()
            n = 0
            with self.request("GET", bucket, key, stream=True) as r, open(tmp, "wb") as f:
                while True:
                    buf = r.read(1 << 20)
                    if not buf:
                        break
                    h.update(buf)
                    n += len(buf)
                    f.write(buf)
            if size is not None and n != size:
                raise http.client.IncompleteRead(b"", size - n)
            if sha256 and h.hexdigest() != sha256:
                raise ValueError("sha256 mismatch for s3://%s/%s" % (bucket, key))
            return n
        n = retrying(once, "GET s3://%s/%s" % (bucket, key))
        os.replace(tmp, dest)
        return n

    def _download_ranges(self, bucket, key, tmp, dest, sha256, size):
        with open(tmp, "wb") as f:
            f.truncate(size)
        fd = os.open(tmp, os.O_WRONLY)
        try:
            def part(number, offset, length):
                def once():
                    rng = {"Range": "bytes=%d-%d" % (offset, offset + length - 1)}
                    pos = offset
                    with self.request("GET", bucket, key, headers=rng, stream=True) as r:
                        if r.status != 206:
                            raise AwsError(r.status, "RangeIgnored", "no partial content for a Range")
                        while True:
                            buf = r.read(1 << 20)
                            if not buf:
                                break
                            os.pwrite(fd, buf, pos)
                            pos += len(buf)
                    if pos != offset + length:
                        raise http.client.IncompleteRead(b"", offset + length - pos)
                retrying(once, "GET s3://%s/%s part %d" % (bucket, key, number))
            in_parts(size, part)
        finally:
            os.close(fd)
        if sha256:
            h = hashlib.sha256()
            with open(tmp, "rb") as f:
                for buf in iter(lambda: f.read(1 << 20), b""):
                    h.update(buf)
            if h.hexdigest() != sha256:
                raise ValueError("sha256 mismatch for s3://%s/%s" % (bucket, key))
        os.replace(tmp, dest)
        return size

    def upload_file(self, path, bucket, key):
        size = os.path.getsize(path)
        if size <= MULTIPART_THRESHOLD:
            def once():
                with open(path, "rb") as f:
                    data = f.read()
                self.request("PUT", bucket, key, body=data,
                             headers={"Content-Type": "application/octet-stream"})
            retrying(once, "PUT s3://%s/%s" % (bucket, key))
            return size
        _, _, body = retrying(lambda: self.request(
            "POST", bucket, key, query={"uploads": ""},
            headers={"Content-Type": "application/octet-stream"}), "CreateMultipartUpload")
        upload_id = ET.fromstring(body).findtext("{*}UploadId")
        try:
            fd = os.open(path, os.O_RDONLY)
            try:
                def part(number, offset, length):
                    chunk = os.pread(fd, length, offset)
                    if len(chunk) != length:
                        raise RuntimeError("%s got shorter while it was uploaded" % path)
                    q = {"partNumber": str(number), "uploadId": upload_id}
                    _, hdrs, _ = retrying(
                        lambda: self.request("PUT", bucket, key, query=q, body=chunk),
                        "UploadPart %d" % number)
                    return number, {k.lower(): v for k, v in hdrs.items()}["etag"]
                etags = in_parts(size, part)
            finally:
                os.close(fd)
            xml = "<CompleteMultipartUpload>%s</CompleteMultipartUpload>" % "".join(
                "<Part><PartNumber>%d</PartNumber><ETag>%s</ETag></Part>" % (n, e.replace("&", "&amp;").replace("<", "&lt;"))
                for n, e in etags)
            retrying(lambda: self.request("POST", bucket, key, query={"uploadId": upload_id},
                                          headers={"Content-Type": "application/xml"},
                                          body=xml.encode()), "CompleteMultipartUpload")
        except BaseException:
            try:
                self.request("DELETE", bucket, key, query={"uploadId": upload_id})
            except Exception:  # noqa: BLE001 - best effort
                pass
            raise
        return size

    def list(self, bucket, prefix):
        """Yields (key, size) of every object under prefix."""
        token = None
        while True:
            q = {"list-type": "2", "prefix": prefix}
            if token:
                q["continuation-token"] = token
            _, _, body = retrying(lambda: self.request("GET", bucket, "", query=q),
                                  "ListObjectsV2 s3://%s/%s" % (bucket, prefix))
            root = ET.fromstring(body)
            for c in root.findall("{*}Contents"):
                yield c.findtext("{*}Key"), int(c.findtext("{*}Size") or 0)
            if root.findtext("{*}IsTruncated") != "true":
                return
            token = root.findtext("{*}NextContinuationToken")


class Ecr:
    def __init__(self, region):
        self.region = region
        ep = endpoint_for("ecr", region)
        u = urllib.parse.urlsplit(ep)
        self.host = u.netloc
        self.url = ep + "/"
        self.path = (u.path.rstrip("/") or "") + "/"

    def call(self, op, params):
        body = json.dumps(params).encode()

        def once():
            h = sign_headers("POST", self.host, self.path, {}, {
                "Content-Type": "application/x-amz-json-1.1",
                "X-Amz-Target": "AmazonEC2ContainerRegistry_V20150921." + op},
                hashlib.sha256(body).hexdigest(), "ecr", self.region, CREDS.get())
            h.pop("host")
            with http_call("POST", self.url, h, body) as r:
                return json.loads(r.read() or b"{}")
        return retrying(once, "ECR " + op)


# ----------------------------------------------------------------- job ------

class Job:
    def __init__(self):
        self.bucket = os.environ["HOIST_BUCKET"]
        self.job_id = os.environ["HOIST_JOB_ID"]
        self.region = os.environ.get("HOIST_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
        self.work = os.environ["HOIST_WORK"]
        self.prefix = "jobs/%s/" % self.job_id
        self.s3 = S3(self.region)
        self.state = os.path.join(self.work, "state")
        for d in ("state", "logs"):
            os.makedirs(os.path.join(self.work, d), exist_ok=True)
        self.code = os.path.join(self.work, "code")
        self.input = os.path.join(self.work, "input")
        self.output = os.path.join(self.work, "output")
        self.venv = os.path.join(self.work, "venv")
        self.job_log = os.path.join(self.work, "logs", "job.log")
        self.bootstrap_log = os.environ.get("HOIST_BOOTSTRAP_LOG") or os.path.join(
            self.work, "logs", "bootstrap.log")
        self.status_file = os.path.join(self.state, "status.json")
        self.spec = None
        self.proc = None
        self.container = None
        self.log_offset = 0
        self.log_chunk = 0
        self.instance_id = os.environ.get("HOIST_INSTANCE_ID") or IMDS.get(
            "/latest/meta-data/instance-id")

    # ---- status ----
    def load_status(self):
        try:
            with open(self.status_file) as f:
                return json.load(f)
        except (OSError, ValueError):
            return None

    def status(self, phase, **fields):
        st = self.load_status() or {}
        st.setdefault("phases", {})
        st.update({"job_id": self.job_id, "instance_id": self.instance_id})
        st.setdefault("image", None)
        st.setdefault("exit_code", None)
        st.setdefault("error", None)
        st.setdefault("outputs", None)
        st.update(fields)
        ts = now_iso()
        st["phase"] = phase
        st["updated_at"] = ts
        st["phases"][phase] = ts
        tmp = self.status_file + ".tmp"
        with open(tmp, "w") as f:
            json.dump(st, f, indent=1)
        os.replace(tmp, self.status_file)
        log("phase %s%s" % (phase, (": " + st["error"]) if st.get("error") else ""))
        self.s3.put_bytes(self.bucket, self.prefix + "status.json",
                          json.dumps(st, indent=1).encode(), "application/json")
        self.upload_bootstrap_log()
        return st

    def upload_bootstrap_log(self):
        try:
            with open(self.bootstrap_log, "rb") as f:
                data = f.read()
        except OSError:
            return
        try:
            self.s3.put_bytes(self.bucket, self.prefix + "logs/bootstrap.log", data, "text/plain")
        except Exception as e:  # noqa: BLE001 - the log is best effort
            log("bootstrap.log upload failed: %s" % e)

    def terminal_written(self):
        st = self.load_status()
        return bool(st and st.get("phase") in TERMINAL)

    # ---- init ----
    def init(self):
        remote = self.s3.get_bytes(self.bucket, self.prefix + "status.json")
        st = {}
        if remote:
            try:
                st = json.loads(remote)
            except ValueError:
                st = {}
        if not os.path.exists(self.status_file):
            with open(self.status_file, "w") as f:
                json.dump({"phases": st.get("phases") or {}}, f)
        self.status("booting")
        data = self.s3.get_bytes(self.bucket, self.prefix + "job.json")
        if data is None:
            raise RuntimeError("s3://%s/%sjob.json does not exist" % (self.bucket, self.prefix))
        spec = json.loads(data)
        with open(os.path.join(self.state, "job.json"), "wb") as f:
            f.write(data)
        print(int(spec.get("max_runtime_seconds") or 14400))

    def load_spec(self):
        with open(os.path.join(self.state, "job.json"), "rb") as f:
            self.spec = json.loads(f.read())
        return self.spec

    # ---- abort checks ----
    def check_abort(self):
        if self.s3.exists(self.bucket, self.prefix + "cancel"):
            raise Abort("cancelled", "cancelled by request (jobs/%s/cancel)" % self.job_id)
        notice = IMDS.get("/latest/meta-data/spot/instance-action")
        if notice:
            raise Abort("preempted", "spot interruption notice: %s" % notice.strip())

    # ---- staging ----
    def fetch_manifest(self, manifest, dest):
        os.makedirs(dest, exist_ok=True)
        by_sha = {}
        for rel, ent in sorted(manifest.items()):
            target = safe_join(dest, rel)
            by_sha.setdefault(ent["sha256"], []).append((target, ent))

        def fetch(sha):
            targets = by_sha[sha]
            first, ent = targets[0]
            os.makedirs(os.path.dirname(first), exist_ok=True)
            n = self.s3.download(self.bucket, "blobs/sha256/" + sha, first, sha256=sha,
                                 size=ent.get("size"))
            os.chmod(first, int(ent.get("mode", 0o644)) & 0o7777)
            for t, e in targets[1:]:
                os.makedirs(os.path.dirname(t), exist_ok=True)
                shutil.copyfile(first, t)
                os.chmod(t, int(e.get("mode", 0o644)) & 0o7777)
            return n * len(targets)
        total = 0
        with concurrent.futures.ThreadPoolExecutor(THREADS) as ex:
            for n in ex.map(fetch, list(by_sha)):
                total += n
        return total

    def fetch_s3_prefix(self, uri, dest):
        bucket, prefix = parse_s3(uri)
        os.makedirs(dest, exist_ok=True)
        items = [(k, s) for k, s in self.s3.list(bucket, prefix) if not k.endswith("/")]

        def fetch(item):
            key, size = item
            target = safe_join(dest, key[len(prefix):])
            os.makedirs(os.path.dirname(target), exist_ok=True)
            return self.s3.download(bucket, key, target, size=size)
        with concurrent.futures.ThreadPoolExecutor(THREADS) as ex:
            return sum(ex.map(fetch, items))

    def stage(self):
        spec = self.spec
        n = self.fetch_manifest(spec.get("code") or {}, self.code)
        log("code: %d files, %d bytes" % (len(spec.get("code") or {}), n))
        if spec.get("input_s3"):
            n = self.fetch_s3_prefix(spec["input_s3"], self.input)
            log("inputs from %s: %d bytes" % (spec["input_s3"], n))
        else:
            n = self.fetch_manifest(spec.get("inputs") or {}, self.input)
            log("inputs: %d files, %d bytes" % (len(spec.get("inputs") or {}), n))
        os.makedirs(self.output, exist_ok=True)
        make_read_only(self.input)

    # ---- image ----
    def docker_mode(self):
        return os.environ.get("HOIST_RUNTIME", "docker") != "process"

    def build(self):
        image = self.spec.get("image") or {}
        key = image.get("key") or ""
        repo = image.get("repository")
        ecr = Ecr(self.region)
        found = None
        if repo and key:
            try:
                found = bool(ecr.call("DescribeImages", {
                    "repositoryName": repo, "imageIds": [{"imageTag": key}]}).get("imageDetails"))
            except AwsError as e:
                if e.code == "ImageNotFoundException":
                    found = False
                else:
                    log("DescribeImages failed (%s); building" % e)
                    found = None
        reused = bool(found)
        if self.docker_mode():
            reused = self.docker_image(ecr, image, found)
        else:
            self.make_venv()
            if repo and key and not found:
                manifest = json.dumps({
                    "schemaVersion": 2,
                    "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                    "config": {"mediaType": "application/vnd.docker.container.image.v1+json",
                               "size": len(key), "digest": "sha256:" + key},
                    "layers": [],
                    "annotations": {"hoist.image.key": key, "hoist.runtime": "process"}})
                try:
                    ecr.call("PutImage", {"repositoryName": repo, "imageManifest": manifest,
                                          "imageTag": key})
                except AwsError as e:
                    if e.code not in ("ImageAlreadyExistsException",):
                        log("PutImage failed: %s" % e)
        return {"key": key, "reused": reused}

    def make_venv(self):
        py = sys.executable or "python3"
        cmd = [py, "-m", "venv", "--system-site-packages"]
        has_pip = subprocess.call([py, "-c", "import pip"], stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL) == 0
        if has_pip:
            cmd.append("--without-pip")  # the system pip is visible and installs into the venv
        run_logged(cmd + [self.venv])
        req = os.path.join(self.code, "requirements.txt")
        if os.path.exists(req):
            env = dict(os.environ, PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_INPUT="1")
            env.pop("PYTHONPATH", None)
            run_logged([os.path.join(self.venv, "bin", "python"), "-m", "pip", "install",
                        "-r", req], env=env)

    def docker_image(self, ecr, image, found):
        if shutil.which("docker") is None:
            run_logged(["dnf", "install", "-y", "docker"])
        run_logged(["systemctl", "start", "docker"], check=False)
        registry = image["registry"]
        ref = "%s/%s:%s" % (registry, image["repository"], image["key"])
        tok = ecr.call("GetAuthorizationToken", {})["authorizationData"][0]["authorizationToken"]
        user, pw = base64.b64decode(tok).decode().split(":", 1)
        p = subprocess.run(["docker", "login", "--username", user, "--password-stdin", registry],
                           input=pw.encode(), stdout=sys.stderr, stderr=sys.stderr)
        if p.returncode != 0:
            raise RuntimeError("docker login to %s failed" % registry)
        self.image_ref = ref
        if found is not False and run_logged(["docker", "pull", ref], check=False) == 0:
            return True
        ctx = os.path.join(self.work, "build")
        os.makedirs(ctx, exist_ok=True)
        with open(os.path.join(ctx, "Dockerfile"), "w") as f:
            f.write(image.get("dockerfile") or  # as the laptop writes it: ECR Public, no Docker Hub limits
                    "FROM public.ecr.aws/docker/library/python:%s-slim\n" % image.get("python", "3.11"))
        req = os.path.join(self.code, "requirements.txt")
        if os.path.exists(req):
            shutil.copyfile(req, os.path.join(ctx, "requirements.txt"))
        else:
            open(os.path.join(ctx, "requirements.txt"), "w").close()
        run_logged(["docker", "build", "-t", ref, ctx])
        run_logged(["docker", "push", ref])
        return False

    # ---- running ----
    def start_script(self):
        spec = self.spec
        entry = spec.get("entry") or "main.py"
        args = [str(a) for a in spec.get("args") or []]
        gpu = gpu_flags(int((spec.get("resources") or {}).get("gpus") or 0)) if self.docker_mode() else []
        out = open(self.job_log, "ab")
        if self.docker_mode():
            self.container = "hoist-" + self.job_id
            cmd = (["docker", "run", "--rm", "--name", self.container] + gpu +
                   ["-e", "PYTHONUNBUFFERED=1",
                    "-v", self.code + ":/opt/hoist/code:ro", "-v", self.input + ":/input:ro",
                    "-v", self.output + ":/output", "-w", "/opt/hoist/code", self.image_ref,
                    "python", entry, "-i", "/input", "-o", "/output"] + args)
            cwd = self.work
        else:
            cmd = [os.path.join(self.venv, "bin", "python"), entry, "-i", self.input,
                   "-o", self.output] + args
            cwd = self.code
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        for k in ("HOIST_WORK", "HOIST_BOOTSTRAP_LOG"):
            env.pop(k, None)
        log("running: %s" % " ".join(cmd))
        self.proc = subprocess.Popen(cmd, cwd=cwd, stdout=out, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, env=env, preexec_fn=os.setpgrp)
        out.close()
        with open(os.path.join(self.state, "script.pgid"), "w") as f:
            f.write(str(self.proc.pid))

    def ship_logs(self):
        try:
            size = os.path.getsize(self.job_log)
        except OSError:
            return
        if size <= self.log_offset:
            return
        with open(self.job_log, "rb") as f:
            f.seek(self.log_offset)
            data = f.read(size - self.log_offset)
        self.log_chunk += 1
        key = self.prefix + "logs/job/%08d.log" % self.log_chunk
        self.s3.put_bytes(self.bucket, key, data, "text/plain; charset=utf-8")
        self.log_offset += len(data)

    def monitor(self):
        while True:
            try:
                rc = self.proc.wait(timeout=POLL)
            except subprocess.TimeoutExpired:
                rc = None
            try:
                self.ship_logs()
            except Exception as e:  # noqa: BLE001 - retried next cycle
                log("log shipping failed: %s" % e)
            if rc is not None:
                return rc
            self.check_abort()

    def stop_script(self):
        if self.proc is None or self.proc.poll() is not None:
            return
        log("stopping the script")
        if self.container:
            subprocess.call(["docker", "kill", "--signal", "TERM", self.container],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
        except OSError:
            pass
        try:
            self.proc.wait(timeout=KILL_GRACE)
        except subprocess.TimeoutExpired:
            if self.container:
                subprocess.call(["docker", "kill", self.container],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except OSError:
                pass
            self.proc.wait()

    # ---- outputs ----
    def upload_outputs(self):
        if not os.path.isdir(self.output):
            return {"files": 0, "bytes": 0}
        dest = self.spec.get("output_s3") if self.spec else None
        if dest:
            bucket, prefix = parse_s3(dest)
        else:
            bucket, prefix = self.bucket, self.prefix + "output/"
        if prefix and not prefix.endswith("/"):
            prefix += "/"
        files = []
        for root, dirs, names in os.walk(self.output):
            dirs.sort()
            for n in sorted(names):
                p = os.path.join(root, n)
                if os.path.isfile(p):
                    files.append(p)

        def up(p):
            rel = os.path.relpath(p, self.output).replace(os.sep, "/")
            return self.s3.upload_file(p, bucket, prefix + rel)
        total = 0
        errors = []
        with concurrent.futures.ThreadPoolExecutor(THREADS) as ex:
            for f in [ex.submit(up, p) for p in files]:
                try:
                    total += f.result()
                except Exception as e:  # noqa: BLE001 - upload the rest, then report
                    errors.append(str(e))
        log("outputs: %d files, %d bytes -> s3://%s/%s" % (len(files), total, bucket, prefix))
        if errors:
            raise RuntimeError("%d output uploads failed: %s" % (len(errors), errors[0]))
        return {"files": len(files), "bytes": total}

    # ---- the whole job ----
    def run(self):
        self.load_spec()
        exit_code = None
        try:
            self.check_abort()
            self.status("staging")
            self.stage()
            self.check_abort()
            self.status("building")
            image = self.build()
            self.check_abort()
            self.status("running", image=image)
            self.start_script()
            exit_code = self.monitor()
            log("script exited with %s" % exit_code)
            if exit_code < 0:  # killed by a signal
                exit_code = 128 - exit_code
            phase = "succeeded" if exit_code == 0 else "failed"
            error = None if exit_code == 0 else "the script exited with status %d" % exit_code
        except Abort as e:
            phase, error = e.reason, str(e)
        except Exception as e:  # noqa: BLE001 - every error ends in a terminal status
            phase, error = "failed", "%s: %s" % (type(e).__name__, e)
        if phase == "failed":
            error = (error or "failed") + disk_full_hint(self.work)
        self.finish(phase, error, exit_code)

    def finish(self, phase, error, exit_code=None):
        """Stops the script, uploads logs and outputs, writes the terminal status."""
        # a late SIGTERM (watchdog) must not interrupt the upload of partial results
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        try:
            self.stop_script()
        except Exception as e:  # noqa: BLE001
            log("stop failed: %s" % e)
        if self.proc is not None and exit_code is None:
            rc = self.proc.poll()
            exit_code = (128 - rc if rc < 0 else rc) if rc is not None else None
        outputs = None
        try:
            self.ship_logs()
        except Exception as e:  # noqa: BLE001
            log("log shipping failed: %s" % e)
        try:
            self.status("uploading")
        except Exception as e:  # noqa: BLE001
            log("status failed: %s" % e)
        try:
            outputs = self.upload_outputs()
        except Exception as e:  # noqa: BLE001
            log("output upload failed: %s" % e)
            if phase == "succeeded":
                phase, error = "failed", "output upload failed: %s" % e
        self.status(phase, error=error, exit_code=exit_code, outputs=outputs)


def disk_full_hint(path):
    """What to add to a failure when the disk under path is (nearly) full:
    staging, the image build or the script itself may have filled it, and
    each says so in its own words (or not at all)."""
    try:
        usage = shutil.disk_usage(path)
    except OSError:
        return ""
    if usage.free > max(256 << 20, usage.total // 100):
        return ""
    return ("; the instance's %d GiB disk was full: run again with a larger --disk"
            % round(usage.total / (1 << 30)))


def nvidia_ready():
    """True when the NVIDIA driver answers (nvidia-smi exits 0)."""
    if shutil.which("nvidia-smi") is None:
        return False
    return subprocess.call(["nvidia-smi"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) == 0


def gpu_flags(gpus_wanted, wait=GPU_WAIT):
    """docker run's flags for the instance's GPUs.

    On a GPU image the driver can still be loading when the job starts, so
    when the job asked for GPUs it is waited for (up to `wait` seconds); a
    job that asked for GPUs and gets none fails here, rather than running on
    the CPU for hours unnoticed. A GPU instance the job did not ask for
    (`--instance-type g5.xlarge` alone) still gets its GPUs."""
    deadline = time.monotonic() + (wait if gpus_wanted > 0 else 0)
    while True:
        if nvidia_ready():
            return ["--gpus", "all"]
        if time.monotonic() >= deadline:
            break
        time.sleep(5)
    if gpus_wanted > 0:
        raise RuntimeError("the job asked for %d GPU(s) but nvidia-smi found no working NVIDIA "
                           "driver after %ds: boot a GPU image (hoist's default for GPU "
                           "types, or --image with an AMI that has the NVIDIA driver and "
                           "container toolkit)" % (gpus_wanted, int(wait)))
    return []


def parse_s3(uri):
    if not uri.startswith("s3://"):
        raise ValueError("not an s3:// URI: %r" % uri)
    bucket, _, prefix = uri[5:].partition("/")
    return bucket, prefix


def safe_join(root, rel):
    parts = rel.split("/")
    if (not rel or rel.startswith("/") or "\0" in rel or
            any(p in ("", ".", "..") for p in parts)):
        raise ValueError("unsafe relative path in manifest: %r" % rel)
    return os.path.join(root, *parts)


def make_read_only(root):
    for d, dirs, files in os.walk(root, topdown=False):
        for n in files:
            p = os.path.join(d, n)
            os.chmod(p, os.stat(p).st_mode & ~0o222)
        os.chmod(d, os.stat(d).st_mode & ~0o222)


def run_logged(cmd, check=True, env=None):
    log("$ %s" % " ".join(cmd))
    p = subprocess.Popen(cmd, stdout=sys.stderr, stderr=sys.stderr, env=env,
                         stdin=subprocess.DEVNULL)
    try:
        rc = p.wait()
    except BaseException:  # Abort (watchdog) while building: do not leave it running
        p.kill()
        p.wait()
        raise
    if check and rc != 0:
        raise RuntimeError("%s exited with status %d" % (cmd[0], rc))
    return rc


def on_sigterm(signum, frame):
    reason = "timed_out"
    try:
        with open(os.path.join(os.environ["HOIST_WORK"], "state", "abort")) as f:
            reason = f.read().strip() or reason
    except OSError:
        pass
    msg = {"timed_out": "max runtime exceeded"}.get(reason, "stopped by signal %d" % signum)
    raise Abort(reason, msg)


def main(argv):
    if len(argv) < 2:
        sys.stderr.write(__doc__)
        return 2
    cmd = argv[1]
    job = Job()
    with open(os.path.join(job.state, "agent.pid"), "w") as f:
        f.write(str(os.getpid()))
    signal.signal(signal.SIGTERM, on_sigterm)
    if cmd == "init":
        try:
            job.init()
        except Abort as e:
            job.finish(e.reason, str(e))
            return 3
        except Exception as e:  # noqa: BLE001 - report it, then let the bootstrap power off
            log("init failed: %s" % e)
            job.finish("failed", "%s: %s" % (type(e).__name__, e))
            return 1
        return 0
    if cmd == "run":
        try:
            job.run()
        except Abort as e:  # SIGTERM landed inside finish(): finish again, best effort
            if not job.terminal_written():
                job.finish(e.reason, str(e))
        return 0
    if cmd == "finalize":
        phase = argv[2] if len(argv) > 2 else "failed"
        msg = argv[3] if len(argv) > 3 else "bootstrap failed"
        if job.terminal_written():
            job.upload_bootstrap_log()
            return 0
        try:
            job.load_spec()
        except (OSError, ValueError):
            job.spec = None
        job.finish(phase, msg)
        return 0
    sys.stderr.write("unknown command %r\n" % cmd)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
