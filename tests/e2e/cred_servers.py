"""Local stand-ins for the credential services hoist reads: the EC2 instance
metadata service (IMDSv2), the ECS container credentials endpoint and the IAM
Identity Center (SSO) portal. Each serves on 127.0.0.1 with a free port,
checks what the real service checks (session token, Authorization header,
bearer token) and records the requests it saw, in order."""

import json
import threading
import uuid
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse


def _expiration(minutes=60):
    t = datetime.now(timezone.utc) + timedelta(minutes=minutes)
    return t


class _Server:
    """A ThreadingHTTPServer on a free loopback port; `requests` lists
    (method, path, headers) tuples as they arrived."""

    def __init__(self):
        self.requests = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                outer.requests.append((self.command, self.path, dict(self.headers)))
                status, body, ctype = outer.respond(self.command, self.path, self.headers)
                data = body.encode() if isinstance(body, str) else body
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_PUT = do_POST = _handle

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self._httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()

    def respond(self, method, path, headers):  # pragma: no cover - overridden
        return 404, "", "text/plain"

    def close(self):
        self._httpd.shutdown()
        self._httpd.server_close()


class ImdsServer(_Server):
    """IMDSv2 only: PUT /latest/api/token (with a TTL header) gives a token;
    every GET must carry it in X-aws-ec2-metadata-token, else 401."""

    def __init__(self, credentials, role="hoist-instance-role"):
        self.credentials = credentials
        self.role = role
        self.token = "imds-" + uuid.uuid4().hex
        super().__init__()

    def respond(self, method, path, headers):
        if method == "PUT" and path == "/latest/api/token":
            if not headers.get("X-aws-ec2-metadata-token-ttl-seconds"):
                return 400, "missing TTL", "text/plain"
            return 200, self.token, "text/plain"
        if method != "GET":
            return 405, "", "text/plain"
        if headers.get("X-aws-ec2-metadata-token") != self.token:
            return 401, "", "text/plain"
        base = "/latest/meta-data/iam/security-credentials/"
        if path == base:
            return 200, self.role, "text/plain"
        if path == base + self.role:
            c = self.credentials
            body = {
                "Code": "Success",
                "Type": "AWS-HMAC",
                "AccessKeyId": c["AccessKeyId"],
                "SecretAccessKey": c["SecretAccessKey"],
                "Token": c["SessionToken"],
                "Expiration": _expiration().strftime("%Y-%m-%dT%H:%M:%SZ"),
            }
            return 200, json.dumps(body), "application/json"
        return 404, "", "text/plain"


class ContainerServer(_Server):
    """The ECS/EKS container credentials endpoint at /creds, requiring
    `Authorization: <auth_token>`."""

    def __init__(self, credentials, auth_token):
        self.credentials = credentials
        self.auth_token = auth_token
        super().__init__()

    def respond(self, method, path, headers):
        if urlparse(path).path != "/creds":
            return 404, "", "text/plain"
        if headers.get("Authorization") != self.auth_token:
            return 403, '{"message": "bad token"}', "application/json"
        c = self.credentials
        body = {
            "AccessKeyId": c["AccessKeyId"],
            "SecretAccessKey": c["SecretAccessKey"],
            "Token": c["SessionToken"],
            "Expiration": _expiration().strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        return 200, json.dumps(body), "application/json"


class SsoPortalServer(_Server):
    """The SSO portal's GetRoleCredentials: GET /federation/credentials with
    account_id and role_name, authorised by x-amz-sso_bearer_token."""

    def __init__(self, credentials, bearer_token, account_id, role_name):
        self.credentials = credentials
        self.bearer_token = bearer_token
        self.account_id = account_id
        self.role_name = role_name
        super().__init__()

    def respond(self, method, path, headers):
        url = urlparse(path)
        if method != "GET" or url.path != "/federation/credentials":
            return 404, "", "text/plain"
        if headers.get("x-amz-sso_bearer_token") != self.bearer_token:
            return 401, '{"message": "Session token not found or invalid"}', "application/json"
        q = parse_qs(url.query)
        if q.get("account_id") != [self.account_id] or q.get("role_name") != [self.role_name]:
            return 403, '{"message": "No access"}', "application/json"
        c = self.credentials
        body = {
            "roleCredentials": {
                "accessKeyId": c["AccessKeyId"],
                "secretAccessKey": c["SecretAccessKey"],
                "sessionToken": c["SessionToken"],
                "expiration": int(_expiration().timestamp() * 1000),
            }
        }
        return 200, json.dumps(body), "application/json"
