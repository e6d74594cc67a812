"""hoist under the IAM policy that `hoist iam-policy` prints, and nothing more.

moto checks every request against the caller's IAM policies once told to
(/moto-api/reset-auth). A user holding only hoist's policy runs a job end to
end, follows it, reads it back and takes everything down: an action hoist
calls that the policy forgot fails the test.

moto's IAM evaluation is not AWS's, and the policy is adapted where moto
would refuse what AWS allows (never the other way):
- conditions are dropped: moto treats a condition key it does not supply
  (aws:RequestTag, iam:PassedToService) as an explicit deny;
- EC2, ECR, SSM, SNS and IAM statements get Resource "*": moto checks those
  services' actions against "*" (IAM: but for roles that exist), so no
  narrower ARN can match;
- moto names HeadBucket's permission s3:HeadBucket where AWS asks
  s3:ListBucket: granted wherever s3:ListBucket is.
Action names, and the bucket and object ARNs, are checked as printed.

Two things moto cannot check here, whoever the client (boto3 fails alike):
the signature of an S3 request whose query holds a '/' (a listing under a
prefix: moto decodes the %2F before signing again), and DeleteObjects (moto
asks only the bucket's own policy). So the job runs --detach, its end is
read from status.json, and `hoist down` keeps the bucket; the listings that
following, `hoist ls/logs/results` and `down --all` make need s3:ListBucket
on the bucket, as staging's HEADs do here.
"""
import copy
import json
import os
import shutil
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import BUCKET, EXAMPLES, Emulator  # noqa: E402

WORDCOUNT = os.path.join(EXAMPLES, "wordcount")
WC_INPUT = os.path.join(WORDCOUNT, "sample-input")
ACCOUNT = "123456789012"  # moto's
BOUNDARY = "arn:aws:iam::%s:policy/hoist/hoist-job-boundary" % ACCOUNT
TERMINAL = ("succeeded", "failed", "cancelled", "preempted", "timed_out")


def as_list(x):
    return x if isinstance(x, list) else [x]


def for_moto(policy):
    """hoist's policy as moto can evaluate it (see the module's docstring)."""
    out = copy.deepcopy(policy)
    for st in out["Statement"]:
        st.pop("Condition", None)
        actions = as_list(st["Action"])
        if all(a.split(":")[0] in ("ec2", "ecr", "ssm", "sns", "iam") for a in actions):
            st["Resource"] = "*"
        if "s3:ListBucket" in actions:
            st["Action"] = actions + ["s3:HeadBucket"]
    return out


class LeastPrivilegeTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="hoist-policy-e2e-")
        cls.emu = Emulator(cls.tmp, runner=False).start()
        iam = cls.emu.iam
        printed = cls.emu.hoist("iam-policy", "--account", ACCOUNT)
        assert printed.returncode == 0, printed.stderr
        cls.policy = json.loads(printed.stdout)

        def user(name, policy):
            iam.create_user(UserName=name)
            iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=json.dumps(policy))
            key = iam.create_access_key(UserName=name)["AccessKey"]
            return key["AccessKeyId"], key["SecretAccessKey"]

        # The instances (the host runner) and the test's own checks act as an
        # administrator; hoist itself as a user with only its policy.
        admin = user("admin", {"Version": "2012-10-17",
                               "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})
        dev = user("dev", for_moto(cls.policy))
        cls.admin_keys = admin
        cls.dev_env = {"AWS_ACCESS_KEY_ID": dev[0], "AWS_SECRET_ACCESS_KEY": dev[1]}
        cls.admin_env = {"AWS_ACCESS_KEY_ID": admin[0], "AWS_SECRET_ACCESS_KEY": admin[1]}
        cls.emu.start_runner(HOIST_RUNNER_ACCESS_KEY_ID=admin[0], HOIST_RUNNER_SECRET_ACCESS_KEY=admin[1])
        cls.emu.enforce_iam()
        cls.emu.use_keys(*admin)

    @classmethod
    def tearDownClass(cls):
        cls.emu.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def hoist(self, *args, **kw):
        return self.emu.hoist(*args, env=self.dev_env, **kw)

    def test_1_enforced(self):
        # Keys moto does not know are refused now: the checks are on.
        p = self.emu.hoist("check")
        self.assertEqual(p.returncode, 4, p.stderr)
        self.assertIn("InvalidClientTokenId", p.stderr)

    def test_1b_before_setup_a_run_stops_and_creates_nothing(self):
        # The user may write job roles only under the boundary, and may not
        # create it: until an administrator has, a run stops at once.
        before = self.emu.snapshot()
        out = os.path.join(self.tmp, "out-early")
        p = self.hoist("run", WORDCOUNT, "-i", WC_INPUT, "-o", out, "--yes", "--detach")
        self.assertEqual(p.returncode, 18, p.stdout + p.stderr)
        self.assertIn("an administrator runs `hoist setup` once", p.stderr)
        self.assertEqual(self.emu.snapshot(), before, "a run refused for want of setup created something")
        # the administrator's one-time step
        s = self.emu.hoist("setup", env=self.admin_env)
        self.assertEqual(s.returncode, 0, s.stdout + s.stderr)
        self.assertIn(BOUNDARY, s.stderr)
        again = self.emu.hoist("setup", env=self.admin_env)
        self.assertIn("job boundary unchanged", again.stderr)
        user = self.emu.iam.get_policy(PolicyArn="arn:aws:iam::%s:policy/hoist/hoist-user" % ACCOUNT)["Policy"]
        doc = self.emu.iam.get_policy_version(PolicyArn=user["Arn"], VersionId=user["DefaultVersionId"])
        doc = doc["PolicyVersion"]["Document"]
        printed = json.loads(self.emu.hoist("iam-policy", env=self.admin_env).stdout)
        self.assertEqual(json.loads(doc) if isinstance(doc, str) else doc, printed)
        # narrowed to named data buckets: a new version, the old kept as history
        n = self.emu.hoist("setup", "--data-bucket", "s3://datasets/x", "--data-bucket", "results",
                           env=self.admin_env)
        self.assertEqual(n.returncode, 0, n.stdout + n.stderr)
        versions = self.emu.iam.list_policy_versions(PolicyArn=BOUNDARY)["Versions"]
        self.assertEqual(len(versions), 2)
        self.assertEqual(self.emu.hoist("setup", env=self.admin_env).returncode, 0)
        refused = self.hoist("setup")
        self.assertEqual(refused.returncode, 5, refused.stdout + refused.stderr)
        self.assertIn("run it as an administrator", refused.stderr)

    def as_job(self, job):
        """An S3 client with the credentials the job's instance gets: its
        role's, as IMDS would hand them out."""
        import boto3
        sts = boto3.client("sts", endpoint_url=self.emu.endpoint, region_name="us-east-1",
                           aws_access_key_id=self.admin_keys[0], aws_secret_access_key=self.admin_keys[1])
        role = self.emu.iam.get_role(RoleName=job)["Role"]
        # Only EC2 may assume it, and moto checks that: the test lets the
        # administrator in too, touching the trust alone, never the grants.
        trust = {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::%s:user/admin" % ACCOUNT},
             "Action": "sts:AssumeRole"}]}
        self.emu.iam.update_assume_role_policy(RoleName=job, PolicyDocument=json.dumps(trust))
        c = sts.assume_role(RoleArn=role["Arn"], RoleSessionName="i-0123456789abcdef0")["Credentials"]
        return boto3.client("s3", endpoint_url=self.emu.endpoint, region_name="us-east-1",
                            aws_access_key_id=c["AccessKeyId"], aws_secret_access_key=c["SecretAccessKey"],
                            aws_session_token=c["SessionToken"])

    def test_2_a_job_with_only_hoists_policy(self):
        out = os.path.join(self.tmp, "out")
        p = self.hoist("run", WORDCOUNT, "-i", WC_INPUT, "-o", out, "--yes", "--spot", "--detach")
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr + self.emu.diagnostics())
        job = p.stdout.strip()
        # The user created the account's resources, with all their settings.
        rules = self.emu.s3.get_bucket_lifecycle_configuration(Bucket=BUCKET)["Rules"]
        self.assertEqual(len(rules), 1)
        role = self.emu.iam.get_role(RoleName=job)["Role"]
        self.assertEqual(role["PermissionsBoundary"]["PermissionsBoundaryArn"], BOUNDARY)
        st = self.emu.wait_phase(job, TERMINAL, timeout=120)
        self.assertEqual(st and st["phase"], "succeeded", "%s\n%s" % (st, self.emu.diagnostics(job)))
        self.__class__.job = job
        for args in (("status", job), ("cost", job), ("instances", "--all", "--job", job)):
            with self.subTest(args[0]):
                q = self.hoist(*args)
                self.assertEqual(q.returncode, 0, q.stdout + q.stderr)
                self.assertIn(job, q.stdout)

    def test_2b_a_jobs_role_reaches_nothing_of_another_job(self):
        job = self.job  # detached: its role stays until gc or down
        other = "wordcount-20260101-000000-abcd"
        admin = self.emu.s3
        admin.put_object(Bucket=BUCKET, Key="jobs/%s/job.json" % other, Body=b"{}")
        stranger = "0" * 64
        admin.put_object(Bucket=BUCKET, Key="blobs/sha256/" + stranger, Body=b"another job's input")
        spec = json.loads(admin.get_object(Bucket=BUCKET, Key="jobs/%s/job.json" % job)["Body"].read())
        mine = next(iter(spec["inputs"].values()))["sha256"]
        s3 = self.as_job(job)
        # its own: spec, blobs, writes under its prefix
        s3.get_object(Bucket=BUCKET, Key="jobs/%s/job.json" % job)
        s3.get_object(Bucket=BUCKET, Key="blobs/sha256/" + mine)
        s3.put_object(Bucket=BUCKET, Key="jobs/%s/output/extra.txt" % job, Body=b"x")
        # nobody else's
        denied = [
            lambda: s3.get_object(Bucket=BUCKET, Key="jobs/%s/job.json" % other),
            lambda: s3.put_object(Bucket=BUCKET, Key="jobs/%s/status.json" % other, Body=b"{}"),
            lambda: s3.put_object(Bucket=BUCKET, Key="jobs/%s/output/x" % other, Body=b"x"),
            lambda: s3.get_object(Bucket=BUCKET, Key="blobs/sha256/" + stranger),
            lambda: s3.put_object(Bucket=BUCKET, Key="blobs/sha256/" + mine, Body=b"poisoned"),
            lambda: s3.delete_object(Bucket=BUCKET, Key="jobs/%s/job.json" % other),
        ]
        for i, call in enumerate(denied):
            with self.subTest(i), self.assertRaises(s3.exceptions.ClientError) as e:
                call()
            self.assertIn(e.exception.response["Error"]["Code"], ("AccessDenied", "403"))

    def test_3_down_with_only_hoists_policy(self):
        p = self.hoist("down", "--yes")
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertEqual(self.emu.ecr.describe_repositories()["repositories"], [])
        self.assertEqual(self.emu.iam.list_roles(PathPrefix="/hoist/")["Roles"], [])
        self.emu.iam.get_policy(PolicyArn=BOUNDARY)  # the administrator's, kept
        self.assertIn("kept bucket", p.stderr + p.stdout)


if __name__ == "__main__":
    unittest.main()
