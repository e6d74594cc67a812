"""tests/tools/moto_keepalive.py: moto over kept connections, and the cases
where it must still close one (the bench's CPU figures and
test_run.KeepAliveTests rest on it).

    python3 -m unittest tests/e2e/test_moto_keepalive.py -v     (seconds)
"""
import http.client
import os
import shutil
import socket
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Emulator  # noqa: E402


class KeepAliveServer(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="hoist-moto-keepalive-")
        cls.emu = Emulator(cls.tmp, runner=False, server="keepalive").start()
        cls.emu.s3.create_bucket(Bucket="ka-test")

    @classmethod
    def tearDownClass(cls):
        cls.emu.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def connect(self):
        return http.client.HTTPConnection("127.0.0.1", self.emu.port, timeout=30)

    def exchange(self, conn, method, path, body=None, headers=None):
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        return r, r.read()

    def test_requests_share_a_connection_even_after_an_error_or_an_unread_body(self):
        conns0, _ = self.emu.traffic()
        c = self.connect()
        r, _ = self.exchange(c, "PUT", "/ka-test/a", b"x" * 100000)
        self.assertEqual(r.status, 200)
        self.assertFalse(r.will_close)
        r, _ = self.exchange(c, "PUT", "/no-such-bucket/k", b"y" * 200000)
        self.assertEqual(r.status, 404)
        # moto's dashboard answers without reading a request body: the next
        # request on the connection must still start at its own first line.
        r, _ = self.exchange(c, "GET", "/moto-api/", b"z" * 5000)
        self.assertEqual(r.status, 200)
        # (moto refuses an unsigned GET of an object; a bucket listing it answers)
        r, body = self.exchange(c, "GET", "/ka-test")
        self.assertEqual(r.status, 200)
        self.assertIn(b"<Key>a</Key><", body)
        self.assertIn(b"<Size>100000</Size>", body)
        c.close()
        self.assertEqual(self.emu.traffic()[0] - conns0, 1)

    def test_it_still_closes_when_asked_and_for_http_1_0(self):
        # (A chunked request body, which it also closes after, is not tested:
        # moto_server itself never answers a chunked PUT.)
        c = self.connect()
        r, _ = self.exchange(c, "GET", "/ka-test", headers={"Connection": "close"})
        self.assertEqual(r.status, 200)
        self.assertTrue(r.will_close)
        c.close()

        with socket.create_connection(("127.0.0.1", self.emu.port), timeout=30) as s:
            s.sendall(b"GET /ka-test HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
            data = b""
            while True:  # the server closing is what ends this loop
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        self.assertTrue(data.startswith(b"HTTP/1.1 200"), data[:100])


if __name__ == "__main__":
    unittest.main()
