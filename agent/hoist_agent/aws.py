"""AWS from the instance: IMDSv2, the instance role's credentials, SigV4,
S3 (with multipart transfers) and ECR, every call retried with back-off."""
import concurrent.futures
import contextlib
import datetime
import hashlib
import hmac
import http.client
import json
import os
import random
import socket
import stat
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET

from hoist_agent.util import log


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


# An idempotent transfer (a GET to a file, a PUT of a whole file or of a
# part) is retried this long, not a number of times: throttling comes in
# streaks on one key prefix, and one file of thousands meeting a few faults
# in a row must not fail the job.
TRANSFER_BUDGET = 300.0


def retrying(fn, what, attempts=8, base=0.25, cap=20.0, budget=None):
    """Calls fn() with exponential back-off and full jitter on transient
    errors, `attempts` times, or with a budget (seconds) until it is spent;
    an error that may be IAM propagation is retried every few seconds while
    the grace lasts, without spending either."""
    attempt = 0
    waits = 0
    deadline = time.monotonic() + budget if budget else None

    def spent():
        return attempt >= attempts if deadline is None else time.monotonic() >= deadline
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
            if not transient or spent():
                raise
            err = e
        except (urllib.error.URLError, http.client.HTTPException, ConnectionError,
                socket.timeout, TimeoutError) as e:
            attempt += 1
            if spent():
                raise
            err = e
        delay = random.uniform(0, min(cap, base * (2 ** min(attempt, 16))))
        log("retry %d%s of %s in %.2fs: %s" % (attempt, "" if deadline else "/%d" % attempts, what, delay, err))
        time.sleep(delay)


# ---------------------------------------------------------------- IMDS ------

class Imds:
    """IMDSv2 client. An endpoint that fails (no answer, a 5xx) is left alone
    for a while, longer after each failure in a row (up to BACKOFF_CAP
    seconds), then tried again: never given up on, since a spot notice or
    the next credentials of a long job come from it. Absent on an emulated
    host without a stand-in."""

    BACKOFF_BASE = 1.0
    BACKOFF_CAP = 60.0

    def __init__(self):
        ep = os.environ.get("AWS_EC2_METADATA_SERVICE_ENDPOINT")
        if ep:
            self.endpoint = ep.rstrip("/")
        elif os.environ.get("AWS_ENDPOINT_URL") or os.environ.get("HOIST_RUNTIME") == "process":
            self.endpoint = None  # emulated host without an IMDS stand-in
        else:
            self.endpoint = "http://169.254.169.254"
        self.lock = threading.Lock()
        self.token = None
        self.token_expiry = 0
        self.failures = 0  # in a row
        self.retry_at = 0.0  # the clock's time before which it is not asked
        self.clock = time.monotonic

    def _token(self):
        if self.token and time.time() < self.token_expiry - 60:
            return self.token
        req = urllib.request.Request(self.endpoint + "/latest/api/token", method="PUT",
                                     headers={"X-aws-ec2-metadata-token-ttl-seconds": "21600"})
        with urllib.request.urlopen(req, timeout=2) as r:
            self.token = r.read().decode()
        self.token_expiry = time.time() + 21600
        return self.token

    def _ask(self, path):
        req = urllib.request.Request(self.endpoint + path,
                                     headers={"X-aws-ec2-metadata-token": self._token()})
        with urllib.request.urlopen(req, timeout=2) as r:
            return r.read().decode()

    def get(self, path):
        """Returns the text at path; None on 404, or when IMDS is absent,
        failing, or being left alone after a failure."""
        with self.lock:
            if not self.endpoint or self.clock() < self.retry_at:
                return None
            try:
                try:
                    text = self._ask(path)
                except urllib.error.HTTPError as e:
                    if e.code != 401:
                        raise
                    self.token = None  # expired or refused: a new one, once
                    text = self._ask(path)
            except urllib.error.HTTPError as e:
                if e.code >= 500:
                    self._failed(e)
                    return None
                if e.code == 401:
                    self.token = None
                self._answered()  # a 404 (no such item, no notice) is an answer
                return None
            except (urllib.error.URLError, OSError, http.client.HTTPException) as e:
                self._failed(e)
                return None
            self._answered()
            return text

    def _answered(self):
        self.failures = 0
        self.retry_at = 0.0

    def _failed(self, err):
        self.failures += 1
        wait = min(self.BACKOFF_CAP, self.BACKOFF_BASE * 2 ** (self.failures - 1))
        self.retry_at = self.clock() + random.uniform(wait / 2, wait)
        log("IMDS failed %d time(s) in a row (%s); asked again in %.0fs at the latest"
            % (self.failures, err, wait))


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
            try:
                return self._from_imds()
            except NoCredentials as e:
                # IMDS failing at refresh time: the keys in hand still work
                # until they expire, and IMDS is asked again meanwhile.
                if self.value and self.expiry and time.time() < self.expiry - 30:
                    log("credentials not refreshed (%s); the current ones expire at %s"
                        % (e, time.strftime("%H:%M:%SZ", time.gmtime(self.expiry))))
                    return self.value
                raise

    def _from_imds(self):
        """The role's keys from IMDS (the caller holds the lock)."""
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
                # S3: <Error><Code>; EC2: <Response><Errors><Error><Code>
                code = root.findtext("Code") or root.findtext("Errors/Error/Code") or code
                msg = root.findtext("Message") or root.findtext("Errors/Error/Message") or msg
        except (ValueError, ET.ParseError):
            pass
        if e.code == 404 and code == "404":
            code = "NotFound"
        if code in ("ExpiredToken", "ExpiredTokenException"):
            CREDS.invalidate()
        raise AwsError(e.code, code, msg)


def dns_suffix(region):
    """The partition's domain: from the S3 endpoint the laptop gave the
    loader (HOIST_S3_ENDPOINT, https://s3.<region>.<suffix>), else by region."""
    host = urllib.parse.urlsplit(os.environ.get("HOIST_S3_ENDPOINT", "")).netloc
    lead = "s3.%s." % region
    if host.startswith(lead):
        return host[len(lead):]
    return "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"


def endpoint_for(service, region):
    ep = (os.environ.get("AWS_ENDPOINT_URL_" + service.upper()) or
          os.environ.get("AWS_ENDPOINT_URL"))
    if ep:
        return ep.rstrip("/")
    if service == "s3":
        return "https://s3.%s.%s" % (region, dns_suffix(region))
    if service in ("ec2", "sns"):
        return "https://%s.%s.%s" % (service, region, dns_suffix(region))
    return "https://api.ecr.%s.%s" % (region, dns_suffix(region))


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
        if bucket == os.environ.get("HOIST_BUCKET") and os.environ.get("HOIST_ACCOUNT"):
            # The job bucket's name is predictable: S3 refuses the request
            # if another account owns a bucket of that name.
            headers["x-amz-expected-bucket-owner"] = os.environ["HOIST_ACCOUNT"]
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

    def delete(self, bucket, key):
        def once():
            try:
                self.request("DELETE", bucket, key)
            except AwsError as e:
                if e.status != 404:
                    raise
        retrying(once, "DELETE s3://%s/%s" % (bucket, key))

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
        n = retrying(once, "GET s3://%s/%s" % (bucket, key), budget=TRANSFER_BUDGET)
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
                retrying(once, "GET s3://%s/%s part %d" % (bucket, key, number), budget=TRANSFER_BUDGET)
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
        """Uploads the regular file at path. A symbolic link is never
        followed (O_NOFOLLOW), nor is anything but a regular file read: a
        script cannot make the agent upload a file of the host's."""
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                raise ValueError("%s is not a regular file" % path)
            return self._upload_fd(fd, st.st_size, path, bucket, key)
        finally:
            os.close(fd)

    def _upload_fd(self, fd, size, path, bucket, key):
        def read(offset, length):
            chunk = os.pread(fd, length, offset)
            if len(chunk) != length:
                raise RuntimeError("%s got shorter while it was uploaded" % path)
            return chunk
        if size <= MULTIPART_THRESHOLD:
            retrying(lambda: self.request("PUT", bucket, key, body=read(0, size),
                                          headers={"Content-Type": "application/octet-stream"}),
                     "PUT s3://%s/%s" % (bucket, key), budget=TRANSFER_BUDGET)
            return size
        _, _, body = retrying(lambda: self.request(
            "POST", bucket, key, query={"uploads": ""},
            headers={"Content-Type": "application/octet-stream"}), "CreateMultipartUpload")
        upload_id = ET.fromstring(body).findtext("{*}UploadId")
        try:
            def part(number, offset, length):
                chunk = read(offset, length)
                q = {"partNumber": str(number), "uploadId": upload_id}
                _, hdrs, _ = retrying(
                    lambda: self.request("PUT", bucket, key, query=q, body=chunk),
                    "UploadPart %d" % number, budget=TRANSFER_BUDGET)
                return number, {k.lower(): v for k, v in hdrs.items()}["etag"]
            etags = in_parts(size, part)
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
