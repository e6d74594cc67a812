"""`hoist check` against moto for every credential source, with the aws CLI
as the oracle where it can be one. Each IAM user / assumed role gets its own
keys in moto, so the caller ARN hoist prints proves which keys it used."""

import contextlib
import hashlib
import json
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest
from datetime import datetime, timedelta, timezone

import boto3

from cred_servers import ContainerServer, ImdsServer, SsoPortalServer

HOIST = os.environ.get("HOIST_BIN", "hoist")
ACCOUNT = "123456789012"
# Every variable that steers the aws CLI's config or credential chain.
AWS_VARS = [k for k in os.environ if k.startswith("AWS_")]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class CheckTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.port = free_port()
        cls.moto_url = f"http://127.0.0.1:{cls.port}"
        cls.moto = subprocess.Popen(
            ["moto_server", "-H", "127.0.0.1", "-p", str(cls.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(300):
            try:
                socket.create_connection(("127.0.0.1", cls.port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        else:
            raise RuntimeError("moto_server did not start")
        boto = dict(
            endpoint_url=cls.moto_url,
            region_name="us-east-1",
            aws_access_key_id="setup",
            aws_secret_access_key="setup",
        )
        iam = boto3.client("iam", **boto)
        cls.keys = {}
        for user in ["env", "dev", "default", "cfg", "proc", "base", "other"]:
            iam.create_user(UserName=f"{user}-user")
            k = iam.create_access_key(UserName=f"{user}-user")["AccessKey"]
            cls.keys[user] = {"AccessKeyId": k["AccessKeyId"], "SecretAccessKey": k["SecretAccessKey"]}
        sts = boto3.client("sts", **boto)

        def role_creds(name):
            r = sts.assume_role(RoleArn=f"arn:aws:iam::{ACCOUNT}:role/{name}", RoleSessionName=name)
            return r["Credentials"]

        cls.imds_creds = role_creds("imds-role")
        cls.ecs_creds = role_creds("ecs-role")
        cls.sso_creds = role_creds("sso-role")
        cls.secrets = [k["SecretAccessKey"] for k in cls.keys.values()] + [
            c[f] for c in (cls.imds_creds, cls.ecs_creds, cls.sso_creds) for f in ("SecretAccessKey", "SessionToken")
        ]

    @classmethod
    def tearDownClass(cls):
        cls.moto.terminate()
        cls.moto.wait()

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="hoist-check-")
        self.servers = []

    def tearDown(self):
        for s in self.servers:
            s.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    # -- helpers ---------------------------------------------------------

    def write(self, name, text, mode=0o644):
        path = os.path.join(self.tmp, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, mode)
        return path

    def env(self, region="us-east-1", endpoint=True, **extra):
        """A clean environment: no AWS_* from outside, HOME and the shared
        files in the temp folder, IMDS off, moto as the endpoint."""
        env = {k: v for k, v in os.environ.items() if k not in AWS_VARS}
        env.update(
            HOME=self.tmp,
            AWS_CONFIG_FILE=os.path.join(self.tmp, "config"),
            AWS_SHARED_CREDENTIALS_FILE=os.path.join(self.tmp, "credentials"),
            AWS_EC2_METADATA_DISABLED="true",
        )
        if region:
            env["AWS_DEFAULT_REGION"] = region
        if endpoint:
            env["AWS_ENDPOINT_URL"] = self.moto_url
        env.update({k: v for k, v in extra.items() if v is not None})
        for k, v in extra.items():
            if v is None:
                env.pop(k, None)
        return env

    def hoist(self, env, *args):
        return subprocess.run([HOIST, "check", *args], env=env, capture_output=True, text=True, timeout=60)

    def check(self, env, *args):
        """Runs `hoist check --json`, asserts success and no secret in the
        output, returns the parsed object."""
        r = self.hoist(env, "--json", *args)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assert_no_secret(r.stdout + r.stderr)
        return json.loads(r.stdout)

    def assert_no_secret(self, text):
        for s in self.secrets:
            self.assertNotIn(s, text)

    def oracle_arn(self, env, *args):
        """The caller ARN the aws CLI (botocore) finds with the same setup."""
        r = subprocess.run(
            ["aws", "sts", "get-caller-identity", "--output", "json", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        self.assertEqual(r.returncode, 0, r.stderr)
        return json.loads(r.stdout)["Arn"]

    def user_arn(self, user):
        return f"arn:aws:iam::{ACCOUNT}:user/{user}-user"

    def key_env(self, user, **extra):
        k = self.keys[user]
        return self.env(AWS_ACCESS_KEY_ID=k["AccessKeyId"], AWS_SECRET_ACCESS_KEY=k["SecretAccessKey"], **extra)

    def creds_section(self, name, user, extra=""):
        k = self.keys[user]
        return f"[{name}]\naws_access_key_id = {k['AccessKeyId']}\naws_secret_access_key = {k['SecretAccessKey']}\n{extra}"

    def fails(self, env, *args, code=3):
        r = self.hoist(env, *args)
        self.assertEqual(r.returncode, code, r.stdout + r.stderr)
        self.assertEqual(r.stdout, "")
        lines = r.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, r.stderr)
        self.assert_no_secret(r.stderr)
        return lines[0]

    # -- environment and files -------------------------------------------

    def test_environment_keys(self):
        env = self.key_env("env")
        out = self.check(env)
        self.assertEqual(out["account"], ACCOUNT)
        self.assertEqual(out["arn"], self.user_arn("env"))
        self.assertEqual(out["credential_source"], "environment")
        self.assertEqual(out["region"], "us-east-1")
        self.assertEqual(out["sts_endpoint"], self.moto_url)
        self.assertTrue(out["sts_custom_endpoint"])
        self.assertEqual(out["arn"], self.oracle_arn(env))

    def test_environment_session_token(self):
        c = self.imds_creds  # temporary credentials: the token matters
        env = self.env(
            AWS_ACCESS_KEY_ID=c["AccessKeyId"],
            AWS_SECRET_ACCESS_KEY=c["SecretAccessKey"],
            AWS_SESSION_TOKEN=c["SessionToken"],
        )
        out = self.check(env)
        self.assertEqual(out["arn"], f"arn:aws:sts::{ACCOUNT}:assumed-role/imds-role/imds-role")
        self.assertEqual(out["credential_source"], "environment")

    def test_text_output_names_everything_but_secrets(self):
        r = self.hoist(self.key_env("env"))
        self.assertEqual(r.returncode, 0, r.stderr)
        for word in [ACCOUNT, self.user_arn("env"), "us-east-1", self.moto_url, "(custom endpoint)", "environment"]:
            self.assertIn(word, r.stdout)
        self.assertNotIn(self.keys["env"]["AccessKeyId"], r.stdout)
        self.assert_no_secret(r.stdout + r.stderr)

    def test_verbose_output_has_no_secret(self):
        env = self.env(
            AWS_ACCESS_KEY_ID=self.ecs_creds["AccessKeyId"],
            AWS_SECRET_ACCESS_KEY=self.ecs_creds["SecretAccessKey"],
            AWS_SESSION_TOKEN=self.ecs_creds["SessionToken"],
            HOIST_DEBUG="1",
        )
        r = subprocess.run([HOIST, "-v", "check"], env=env, capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assert_no_secret(r.stdout + r.stderr)

    def test_credentials_file_default_profile(self):
        self.write("credentials", self.creds_section("default", "default"))
        env = self.env()
        out = self.check(env)
        self.assertEqual(out["arn"], self.user_arn("default"))
        self.assertEqual(out["credential_source"], "shared-credentials-file (profile default)")
        self.assertEqual(out["arn"], self.oracle_arn(env))

    def test_config_file_keys(self):
        self.write("config", self.creds_section("profile cfg", "cfg", "region = eu-west-1\n"))
        env = self.env(region=None, AWS_PROFILE="cfg")
        out = self.check(env)
        self.assertEqual(out["arn"], self.user_arn("cfg"))
        self.assertEqual(out["credential_source"], "config-file (profile cfg)")
        self.assertEqual(out["region"], "eu-west-1")  # the profile's region
        self.assertEqual(out["arn"], self.oracle_arn(env))

    def test_profile_sections_and_aws_profile(self):
        self.write("credentials", self.creds_section("default", "default") + self.creds_section("dev", "dev"))
        self.write("config", "[profile dev]\nregion = eu-north-1\n[default]\nregion = us-west-2\n")
        out = self.check(self.env(region=None, AWS_PROFILE="dev"))
        self.assertEqual(out["arn"], self.user_arn("dev"))
        self.assertEqual(out["credential_source"], "shared-credentials-file (profile dev)")
        self.assertEqual(out["profile"], "dev")
        self.assertEqual(out["region"], "eu-north-1")
        out = self.check(self.env(region=None))
        self.assertEqual(out["arn"], self.user_arn("default"))
        self.assertEqual(out["region"], "us-west-2")

    def test_command_line_profile_beats_environment_keys(self):
        self.write("credentials", self.creds_section("dev", "dev"))
        env = self.key_env("env")
        out = self.check(env, "--profile", "dev")
        self.assertEqual(out["arn"], self.user_arn("dev"))
        self.assertEqual(out["credential_source"], "shared-credentials-file (profile dev)")
        self.assertEqual(out["arn"], self.oracle_arn(env, "--profile", "dev"))

    def test_aws_profile_does_not_beat_environment_keys(self):
        # botocore only drops the environment keys for an explicit --profile.
        self.write("credentials", self.creds_section("dev", "dev"))
        env = self.key_env("env", AWS_PROFILE="dev")
        out = self.check(env)
        self.assertEqual(out["arn"], self.user_arn("env"))
        self.assertEqual(out["arn"], self.oracle_arn(env))

    def test_credential_process(self):
        k = self.keys["proc"]
        script = self.write(
            "creds.sh",
            "#!/bin/sh\n"
            f"echo '{{\"Version\": 1, \"AccessKeyId\": \"{k['AccessKeyId']}\", "
            f"\"SecretAccessKey\": \"{k['SecretAccessKey']}\", \"Expiration\": \"2099-01-01T00:00:00Z\"}}'\n",
            0o755,
        )
        failing = self.write("fail.sh", "#!/bin/sh\necho 'sorry: vault sealed' >&2\nexit 2\n", 0o755)
        self.write("config", f"[profile p]\ncredential_process = {script}\n[profile bad]\ncredential_process = {failing}\n")
        env = self.env()
        out = self.check(env, "--profile", "p")
        self.assertEqual(out["arn"], self.user_arn("proc"))
        self.assertEqual(out["credential_source"], "credential-process (profile p)")
        self.assertEqual(out["arn"], self.oracle_arn(env, "--profile", "p"))
        # The command's stderr is the user's (an MFA prompt, a login hint),
        # then hoist's one line.
        r = self.hoist(env, "--profile", "bad")
        self.assertEqual(r.returncode, 3, r.stderr)
        lines = r.stderr.strip().splitlines()
        self.assertEqual(lines[0], "sorry: vault sealed")
        self.assertEqual(len(lines), 2, r.stderr)
        self.assertRegex(lines[1], r"^hoist: error: credential_process of profile 'bad' exited with status 2")

    def test_no_core_dumps(self):
        """hoist's memory holds credentials: it sets its core limit to 0 at
        start, which the credential_process it runs inherits and reports."""
        k = self.keys["proc"]
        seen = os.path.join(self.tmp, "core-limit")
        script = self.write(
            "creds.sh",
            f"#!/bin/sh\necho \"$(ulimit -c) $(ulimit -Hc)\" > {seen}\n"
            f"echo '{{\"Version\": 1, \"AccessKeyId\": \"{k['AccessKeyId']}\", "
            f"\"SecretAccessKey\": \"{k['SecretAccessKey']}\"}}'\n",
            0o755,
        )
        self.write("config", f"[profile p]\ncredential_process = {script}\n")
        # Started the way `ulimit -c unlimited` leaves a shell.
        hard = resource.getrlimit(resource.RLIMIT_CORE)[1]
        r = subprocess.run([HOIST, "check", "--profile", "p"], env=self.env(), capture_output=True, text=True,
                           timeout=60, preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_CORE, (hard, hard)))
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(seen) as f:
            self.assertEqual(f.read().split(), ["0", "0"])

    def test_credential_process_that_hangs_is_stopped(self):
        pid_file = os.path.join(self.tmp, "helper.pid")
        hangs = self.write("hangs.sh", f"#!/bin/sh\necho 'MFA code: ' >&2\necho $$ > {pid_file}\nsleep 30\n",
                           0o755)
        self.write("config", f"[profile slow]\ncredential_process = {hangs}\n")
        t0 = time.monotonic()
        r = self.hoist(self.env(HOIST_CREDENTIAL_PROCESS_TIMEOUT="1"), "--profile", "slow")
        took = time.monotonic() - t0
        self.assertEqual(r.returncode, 3, r.stderr)
        self.assertLess(took, 10)
        self.assertEqual(r.stderr.splitlines()[0], "MFA code: ")
        self.assertIn("did not finish within 1 s and was stopped", r.stderr.splitlines()[-1])
        with open(pid_file) as f:
            pid = int(f.read())
        with contextlib.suppress(FileNotFoundError):  # gone, or a zombie where PID 1 does not reap
            with open("/proc/%d/stat" % pid) as f:
                self.assertEqual(f.read().split()[2], "Z")

    # -- roles -------------------------------------------------------------

    def test_assume_role_with_source_profile(self):
        self.write("credentials", self.creds_section("base", "base"))
        self.write(
            "config",
            f"[profile prod]\nrole_arn = arn:aws:iam::{ACCOUNT}:role/prod-role\nsource_profile = base\n"
            "role_session_name = hoist-test\n",
        )
        env = self.env()
        out = self.check(env, "--profile", "prod")
        self.assertEqual(out["arn"], f"arn:aws:sts::{ACCOUNT}:assumed-role/prod-role/hoist-test")
        self.assertEqual(out["credential_source"], "assume-role (profile prod via source_profile base)")
        self.assertEqual(out["arn"], self.oracle_arn(env, "--profile", "prod"))

    def test_assume_role_chain(self):
        self.write("credentials", self.creds_section("base", "base"))
        self.write(
            "config",
            f"[profile mid]\nrole_arn = arn:aws:iam::{ACCOUNT}:role/mid-role\nsource_profile = base\n"
            f"[profile top]\nrole_arn = arn:aws:iam::{ACCOUNT}:role/top-role\nsource_profile = mid\n"
            "role_session_name = top\n",
        )
        out = self.check(self.env(AWS_PROFILE="top"))
        self.assertEqual(out["arn"], f"arn:aws:sts::{ACCOUNT}:assumed-role/top-role/top")
        self.assertEqual(out["credential_source"], "assume-role (profile top via source_profile mid)")

    def test_assume_role_with_credential_source_environment(self):
        self.write(
            "config",
            f"[profile envrole]\nrole_arn = arn:aws:iam::{ACCOUNT}:role/env-role\n"
            "credential_source = Environment\nrole_session_name = from-env\n",
        )
        env = self.key_env("env")
        out = self.check(env, "--profile", "envrole")
        self.assertEqual(out["arn"], f"arn:aws:sts::{ACCOUNT}:assumed-role/env-role/from-env")
        self.assertEqual(out["credential_source"], "assume-role (profile envrole via credential_source Environment)")
        self.assertEqual(out["arn"], self.oracle_arn(env, "--profile", "envrole"))

    def test_web_identity_from_environment(self):
        token = self.write("token.jwt", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ0ZXN0In0.\n")
        env = self.env(
            AWS_WEB_IDENTITY_TOKEN_FILE=token,
            AWS_ROLE_ARN=f"arn:aws:iam::{ACCOUNT}:role/web-role",
            AWS_ROLE_SESSION_NAME="web-session",
        )
        out = self.check(env)
        self.assertEqual(out["arn"], f"arn:aws:sts::{ACCOUNT}:assumed-role/web-role/web-session")
        self.assertEqual(out["credential_source"], "web-identity")
        self.assertEqual(out["arn"], self.oracle_arn(env))

    def test_web_identity_from_profile(self):
        token = self.write("token.jwt", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ0ZXN0In0.")
        self.write(
            "config",
            f"[profile web]\nweb_identity_token_file = {token}\n"
            f"role_arn = arn:aws:iam::{ACCOUNT}:role/web-profile-role\nrole_session_name = wp\n",
        )
        out = self.check(self.env(), "--profile", "web")
        self.assertEqual(out["arn"], f"arn:aws:sts::{ACCOUNT}:assumed-role/web-profile-role/wp")
        self.assertEqual(out["credential_source"], "web-identity (profile web)")

    # -- SSO ---------------------------------------------------------------

    def sso_setup(self, expires_in_minutes):
        bearer = "sso-bearer-token-123"
        portal = SsoPortalServer(self.sso_creds, bearer, ACCOUNT, "Developer")
        self.servers.append(portal)
        self.write(
            "config",
            f"[profile dev]\nsso_session = corp\nsso_account_id = {ACCOUNT}\nsso_role_name = Developer\n"
            "region = us-east-1\n"
            "[sso-session corp]\nsso_start_url = https://corp.awsapps.com/start\nsso_region = us-east-1\n",
        )
        expires = datetime.now(timezone.utc) + timedelta(minutes=expires_in_minutes)
        cache = {
            "startUrl": "https://corp.awsapps.com/start",
            "region": "us-east-1",
            "accessToken": bearer,
            "expiresAt": expires.strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        name = hashlib.sha1(b"corp").hexdigest()
        self.write(f".aws/sso/cache/{name}.json", json.dumps(cache))
        return portal

    def test_sso(self):
        portal = self.sso_setup(60)
        env = self.env(AWS_ENDPOINT_URL_SSO=portal.url)
        out = self.check(env, "--profile", "dev")
        self.assertEqual(out["arn"], f"arn:aws:sts::{ACCOUNT}:assumed-role/sso-role/sso-role")
        self.assertEqual(out["credential_source"], "sso (profile dev)")
        self.assertEqual(out["arn"], self.oracle_arn(env, "--profile", "dev"))
        self.assertTrue(any(p.startswith("/federation/credentials") for _, p, _ in portal.requests))

    def test_sso_expired_token(self):
        portal = self.sso_setup(-5)
        line = self.fails(self.env(AWS_ENDPOINT_URL_SSO=portal.url), "--profile", "dev")
        self.assertIn("aws sso login --profile dev", line)
        self.assertEqual(portal.requests, [])

    # -- platform endpoints ----------------------------------------------

    def test_container_full_uri(self):
        server = ContainerServer(self.ecs_creds, "Bearer ecs-secret")
        self.servers.append(server)
        env = self.env(
            AWS_CONTAINER_CREDENTIALS_FULL_URI=server.url + "/creds",
            AWS_CONTAINER_AUTHORIZATION_TOKEN="Bearer ecs-secret",
        )
        out = self.check(env)
        self.assertEqual(out["arn"], f"arn:aws:sts::{ACCOUNT}:assumed-role/ecs-role/ecs-role")
        self.assertEqual(out["credential_source"], "container")
        self.assertEqual(out["arn"], self.oracle_arn(env))

    def test_container_token_file_and_wrong_token(self):
        server = ContainerServer(self.ecs_creds, "file-token")
        self.servers.append(server)
        token_file = self.write("ecs-token", "file-token")
        out = self.check(
            self.env(
                AWS_CONTAINER_CREDENTIALS_FULL_URI=server.url + "/creds",
                AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE=token_file,
            )
        )
        self.assertEqual(out["credential_source"], "container")
        line = self.fails(
            self.env(AWS_CONTAINER_CREDENTIALS_FULL_URI=server.url + "/creds", AWS_CONTAINER_AUTHORIZATION_TOKEN="x")
        )
        self.assertIn("403", line)

    def test_instance_metadata_v2(self):
        server = ImdsServer(self.imds_creds)
        self.servers.append(server)
        env = self.env(AWS_EC2_METADATA_DISABLED=None, AWS_EC2_METADATA_SERVICE_ENDPOINT=server.url)
        out = self.check(env)
        self.assertEqual(out["arn"], f"arn:aws:sts::{ACCOUNT}:assumed-role/imds-role/imds-role")
        self.assertEqual(out["credential_source"], "instance-metadata")
        methods = [(m, p) for m, p, _ in server.requests]
        self.assertEqual(methods[0], ("PUT", "/latest/api/token"))
        self.assertEqual(server.requests[0][2].get("X-aws-ec2-metadata-token-ttl-seconds"), "21600")
        self.assertIn(("GET", "/latest/meta-data/iam/security-credentials/hoist-instance-role"), methods)
        for m, _, headers in server.requests[1:]:
            self.assertEqual(headers.get("X-aws-ec2-metadata-token"), server.token)
        self.assertEqual(out["arn"], self.oracle_arn(env))

    def test_instance_metadata_disabled(self):
        server = ImdsServer(self.imds_creds)
        self.servers.append(server)
        env = self.env(AWS_EC2_METADATA_DISABLED="true", AWS_EC2_METADATA_SERVICE_ENDPOINT=server.url)
        line = self.fails(env)
        self.assertIn("no AWS credentials found", line)
        self.assertEqual(server.requests, [])

    # -- region and endpoint precedence ----------------------------------

    def test_region_precedence(self):
        self.write("config", "[default]\nregion = eu-west-3\n")
        self.write("credentials", self.creds_section("default", "default"))
        self.assertEqual(self.check(self.env(region=None))["region"], "eu-west-3")
        self.assertEqual(self.check(self.env(region="eu-west-2"))["region"], "eu-west-2")
        self.assertEqual(self.check(self.env(region="eu-west-2", AWS_REGION="eu-west-1"))["region"], "eu-west-1")
        out = self.check(self.env(region="eu-west-2", AWS_REGION="eu-west-1"), "--region", "ap-south-1")
        self.assertEqual(out["region"], "ap-south-1")

    def test_endpoint_precedence(self):
        env = self.key_env("env", AWS_ENDPOINT_URL="http://127.0.0.1:9", AWS_ENDPOINT_URL_STS=self.moto_url)
        out = self.check(env)  # would fail if the global endpoint were used
        self.assertEqual(out["sts_endpoint"], self.moto_url)
        self.assertEqual(out["s3_endpoint"], "http://127.0.0.1:9")
        out = self.check(self.key_env("env", AWS_ENDPOINT_URL="http://127.0.0.1:9"), "--endpoint-url", self.moto_url)
        self.assertEqual(out["sts_endpoint"], self.moto_url)
        self.assertEqual(out["s3_endpoint"], self.moto_url)

    def test_endpoint_from_services_section(self):
        self.write(
            "config",
            "[default]\nservices = local\n"
            f"[services local]\nsts =\n  endpoint_url = {self.moto_url}\n",
        )
        out = self.check(self.key_env("env", AWS_ENDPOINT_URL=None))
        self.assertEqual(out["sts_endpoint"], self.moto_url)
        self.assertEqual(out["s3_endpoint"], "https://s3.us-east-1.amazonaws.com")
        self.assertFalse(out["s3_custom_endpoint"])

    # -- errors ------------------------------------------------------------

    def test_missing_region(self):
        line = self.fails(self.key_env("env", AWS_DEFAULT_REGION=None))
        self.assertEqual(
            line,
            "hoist: error: no AWS region: pass --region or set AWS_REGION, or `aws configure set region ...`",
        )

    def test_missing_credentials(self):
        line = self.fails(self.env())
        self.assertEqual(
            line,
            "hoist: error: no AWS credentials found: set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, "
            "or run `aws configure`",
        )

    def test_unknown_profile(self):
        self.write("config", "[profile real]\nregion = us-east-1\n")
        line = self.fails(self.env(), "--profile", "ghost")
        self.assertIn("'ghost'", line)
        self.assertIn(os.path.join(self.tmp, "config"), line)
        self.assertIn(os.path.join(self.tmp, "credentials"), line)
        line = self.fails(self.env(AWS_PROFILE="ghost"))
        self.assertIn("'ghost'", line)



class CommandLineTest(unittest.TestCase):
    """A bad command line: status 2, one 'hoist: error:' line naming what was
    wrong and the --help of the command it reached; nothing is asked of AWS
    (no credentials are needed to be told)."""

    def test_bad_command_lines(self):
        env = {"PATH": os.environ.get("PATH", ""), "AWS_CONFIG_FILE": "/dev/null",
               "AWS_SHARED_CREDENTIALS_FILE": "/dev/null", "AWS_EC2_METADATA_DISABLED": "true"}
        cases = [
            (["frobnicate", "now"], "unknown command or option: frobnicate now: see hoist --help"),
            (["--colour"], "unknown command or option: --colour: see hoist --help"),
            ([], "A subcommand is required: see hoist --help"),
            (["status", "a", "b", "c"], "unexpected argument(s): b c: see hoist status --help"),
            (["s3", "cp"], "src is required: see hoist s3 cp --help"),
        ]
        for args, line in cases:
            with self.subTest(args):
                r = subprocess.run([HOIST, *args], env=env, capture_output=True, text=True, timeout=30)
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertEqual(r.stdout, "")
                self.assertEqual(r.stderr, "hoist: error: " + line + "\n")


if __name__ == "__main__":
    unittest.main()
