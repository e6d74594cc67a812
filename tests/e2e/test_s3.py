"""The real hoist binary moving S3 data through moto: a 300 MB file up
(multipart, parallel parts) and down (parallel ranges) with bounded memory,
and `hoist presign` URLs that fetch the object and match botocore's.

Checked independently with boto3; run with HOIST_BIN set (ctest does)."""

import datetime
import email.utils
import http.server
import hashlib
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.parse
import urllib.request
from unittest import mock

import boto3
import botocore.auth
from botocore.config import Config

HOIST = os.environ.get("HOIST_BIN", "hoist")
BUCKET = "hoist-e2e-s3"
BIG_SIZE = 300 * 1024 * 1024
# What a 300 MiB copy may add to the peak RSS of `hoist --version`: that
# base is 11 MiB in a release build and about 200 MiB under ASan (shadow
# memory, a 250 MB binary), which a limit on the whole RSS would mistake for
# buffering.
RSS_LIMIT_KIB = 64 * 1024


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


class S3EndToEnd(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.port = free_port()
        cls.endpoint = f"http://127.0.0.1:{cls.port}"
        cls.moto = subprocess.Popen(
            ["moto_server", "-H", "127.0.0.1", "-p", str(cls.port)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(300):
            try:
                socket.create_connection(("127.0.0.1", cls.port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        cls.tmp = tempfile.mkdtemp(prefix="hoist-e2e-s3-")
        cls.env = dict(os.environ)
        for name in list(cls.env):
            if name.startswith("AWS_"):
                del cls.env[name]
        cls.env.update({
            "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL": cls.endpoint,
            "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
            "AWS_EC2_METADATA_DISABLED": "true",
        })
        cls.s3 = boto3.client(
            "s3", endpoint_url=cls.endpoint, region_name="us-east-1",
            aws_access_key_id="testing", aws_secret_access_key="testing",
            # botocore presigns with SigV2 in us-east-1 unless told s3v4.
            config=Config(s3={"addressing_style": "path"}, signature_version="s3v4"))
        cls.s3.create_bucket(Bucket=BUCKET)

    @classmethod
    def tearDownClass(cls):
        cls.moto.terminate()
        cls.moto.wait()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def hoist(self, *args):
        """Runs hoist; returns (exit status, stdout, stderr, peak RSS in KiB).

        The RSS is GNU time's: the rusage of a child Python forks would count
        the Python process it was copied from (ru_maxrss spans the exec)."""
        out_path = os.path.join(self.tmp, "stdout")
        err_path = os.path.join(self.tmp, "stderr")
        rss_path = os.path.join(self.tmp, "rss")
        with open(out_path, "wb") as out, open(err_path, "wb") as err:
            proc = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", rss_path, HOIST, *args], env=self.env,
                                  stdout=out, stderr=err, check=False)
        with open(out_path) as f:
            stdout = f.read()
        with open(err_path) as f:
            stderr = f.read()
        with open(rss_path) as f:
            rss = int(f.read().split()[-1])
        return proc.returncode, stdout, stderr, rss

    def test_300mb_round_trip_multipart_with_bounded_memory(self):
        src = os.path.join(self.tmp, "big.bin")
        with open(src, "wb") as f:
            for _ in range(BIG_SIZE // (4 << 20)):  # 300 MiB is 75 x 4 MiB
                f.write(os.urandom(4 << 20))
        want = sha256_file(src)
        code, _, err, base = self.hoist("--version")
        self.assertEqual(code, 0, err)

        start = time.monotonic()
        code, out, err, rss = self.hoist("s3", "cp", src, f"s3://{BUCKET}/data/big.bin")
        up_s = time.monotonic() - start
        self.assertEqual(code, 0, err)
        self.assertIn(f"{BIG_SIZE} bytes", out)
        print(f"\nupload: {up_s:.1f} s, peak RSS {rss / 1024:.1f} MiB ({base / 1024:.1f} MiB at rest); "
              f"hoist says: {out.strip()}")
        self.assertLess(rss - base, RSS_LIMIT_KIB, "upload peak RSS over hoist --version's")

        head = self.s3.head_object(Bucket=BUCKET, Key="data/big.bin")
        self.assertEqual(head["ContentLength"], BIG_SIZE)
        # A multipart object's ETag is "<md5 of part md5s>-<parts>": 300 MiB / 8 MiB.
        self.assertTrue(head["ETag"].endswith('-38"'), head["ETag"])
        self.assertEqual(self.s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []), [])
        os.remove(src)

        dst = os.path.join(self.tmp, "big.down")
        start = time.monotonic()
        code, out, err, rss = self.hoist("s3", "cp", f"s3://{BUCKET}/data/big.bin", dst)
        down_s = time.monotonic() - start
        self.assertEqual(code, 0, err)
        print(f"download: {down_s:.1f} s, peak RSS {rss / 1024:.1f} MiB; hoist says: {out.strip()}")
        self.assertLess(rss - base, RSS_LIMIT_KIB, "download peak RSS over hoist --version's")
        self.assertEqual(os.path.getsize(dst), BIG_SIZE)
        self.assertEqual(sha256_file(dst), want)
        self.assertFalse(os.path.exists(dst + ".hoist-partial"))
        os.remove(dst)
        self.s3.delete_object(Bucket=BUCKET, Key="data/big.bin")

    def test_small_file_round_trip_with_awkward_key(self):
        src = os.path.join(self.tmp, "small.txt")
        with open(src, "wb") as f:
            f.write(b"small body\n")
        key = "dir/with space+plus=eq&amp (1) caf\u00e9.txt"
        code, _, err, _ = self.hoist("s3", "cp", src, f"s3://{BUCKET}/{key}")
        self.assertEqual(code, 0, err)
        self.assertEqual(self.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read(), b"small body\n")
        dst = os.path.join(self.tmp, "small.down")
        code, _, err, _ = self.hoist("s3", "cp", f"s3://{BUCKET}/{key}", dst)
        self.assertEqual(code, 0, err)
        with open(dst, "rb") as f:
            self.assertEqual(f.read(), b"small body\n")

    def test_missing_object_is_not_found(self):
        dst = os.path.join(self.tmp, "never")
        code, _, err, _ = self.hoist("s3", "cp", f"s3://{BUCKET}/no/such/key", dst)
        self.assertEqual(code, 16, err)
        self.assertIn("does not exist", err)
        self.assertFalse(os.path.exists(dst))

    def test_presign_fetches_the_object(self):
        key = "presign/r\u00e9sum\u00e9 v1.txt"
        self.s3.put_object(Bucket=BUCKET, Key=key, Body=b"presigned bytes")
        code, out, err, _ = self.hoist("presign", f"s3://{BUCKET}/{key}", "--expires-in", "300")
        self.assertEqual(code, 0, err)
        url = out.strip()
        self.assertTrue(url.startswith(self.endpoint + "/"), url)
        self.assertIn("X-Amz-Expires=300", url)
        self.assertNotIn("X-Amz-Signature", err)  # the URL is output, never a log line
        with urllib.request.urlopen(url) as response:
            self.assertEqual(response.read(), b"presigned bytes")

    def test_presign_matches_botocore(self):
        key = "odd keys/a+b=c&d%e (f) 'g' !*:@,;$ \u65e5\u672c.txt"
        code, out, err, _ = self.hoist("presign", f"s3://{BUCKET}/{key}", "--expires-in", "900")
        self.assertEqual(code, 0, err)
        ours = urllib.parse.urlsplit(out.strip())
        our_query = dict(urllib.parse.parse_qsl(ours.query, keep_blank_values=True))

        # botocore signing the same request at hoist's timestamp.
        signed_at = datetime.datetime.strptime(our_query["X-Amz-Date"], "%Y%m%dT%H%M%SZ")
        with mock.patch.object(botocore.auth, "get_current_datetime", return_value=signed_at):
            theirs_url = self.s3.generate_presigned_url(
                "get_object", Params={"Bucket": BUCKET, "Key": key}, ExpiresIn=900)
        theirs = urllib.parse.urlsplit(theirs_url)
        their_query = dict(urllib.parse.parse_qsl(theirs.query, keep_blank_values=True))

        self.assertEqual((ours.scheme, ours.netloc, ours.path), (theirs.scheme, theirs.netloc, theirs.path))
        self.assertEqual(our_query, their_query)

    def test_presign_signs_with_aws_time(self):
        """A computer clock two hours slow: the URL is signed with the time
        S3 gives in its answer's Date, or it would be expired on arrival."""
        ahead = 2 * 3600

        class SkewedS3(http.server.BaseHTTPRequestHandler):
            def do_HEAD(self):
                self.send_response(200)
                self.send_header("Content-Length", "3")
                self.end_headers()

            def date_time_string(self, timestamp=None):
                return email.utils.formatdate(time.time() + ahead, usegmt=True)

            def log_message(self, *args):
                pass

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), SkewedS3)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            env = dict(self.env, AWS_ENDPOINT_URL="http://127.0.0.1:%d" % server.server_address[1])
            r = subprocess.run([HOIST, "presign", f"s3://{BUCKET}/k", "--expires-in", "600"], env=env,
                               capture_output=True, text=True, timeout=60)
        finally:
            server.shutdown()
            server.server_close()
        self.assertEqual(r.returncode, 0, r.stderr)
        query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(r.stdout.strip()).query))
        signed = datetime.datetime.strptime(query["X-Amz-Date"], "%Y%m%dT%H%M%SZ").replace(
            tzinfo=datetime.timezone.utc).timestamp()
        self.assertLess(abs(signed - time.time() - ahead), 60, query["X-Amz-Date"])
        self.assertIn("behind AWS's", r.stderr)

    def test_presign_default_and_bad_expiry(self):
        code, out, err, _ = self.hoist("presign", f"s3://{BUCKET}/k")
        self.assertEqual(code, 0, err)
        self.assertIn("X-Amz-Expires=3600", out)
        code, out, err, _ = self.hoist("presign", f"s3://{BUCKET}/k", "--expires-in", "604801")
        self.assertEqual(code, 15)
        self.assertIn("604800", err)
        self.assertEqual(out, "")
        code, _, err, _ = self.hoist("presign", "not-an-s3-uri")
        self.assertEqual(code, 15)
        self.assertIn("s3://", err)


if __name__ == "__main__":
    unittest.main()
