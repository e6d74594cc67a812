"""hoist under the IAM policy that `hoist iam-policy` prints, and nothing more.

moto checks every request against the caller's IAM policies once told to
(/moto-api/reset-auth). A user holding only hoist's policy runs a job end to
end, follows it, reads it back and takes everything down: an action hoist
calls that the policy forgot fails the test.

moto's IAM evaluation is not AWS's, and the policy is adapted where moto
would refuse what AWS allows (never the other way):
- conditions are dropped: moto treats a condition key it does not supply
  (aws:RequestTag, iam:PassedToService) as an explicit deny;
- EC2, ECR, SSM and IAM statements get Resource "*": moto checks those
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
ROLE = "hoist-instance-us-east-1"
TERMINAL = ("succeeded", "failed", "cancelled", "preempted", "timed_out")


def as_list(x):
    return x if isinstance(x, list) else [x]


def for_moto(policy):
    """hoist's policy as moto can evaluate it (see the module's docstring)."""
    out = copy.deepcopy(policy)
    for st in out["Statement"]:
        st.pop("Condition", None)
        actions = as_list(st["Action"])
        if all(a.split(":")[0] in ("ec2", "ecr", "ssm", "iam") for a in actions):
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
        cls.dev_env = {"AWS_ACCESS_KEY_ID": dev[0], "AWS_SECRET_ACCESS_KEY": dev[1]}
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

    def test_2_a_job_with_only_hoists_policy(self):
        out = os.path.join(self.tmp, "out")
        p = self.hoist("run", WORDCOUNT, "-i", WC_INPUT, "-o", out, "--yes", "--spot", "--detach")
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr + self.emu.diagnostics())
        job = p.stdout.strip()
        # The user created the account's resources, with all their settings.
        rules = self.emu.s3.get_bucket_lifecycle_configuration(Bucket=BUCKET)["Rules"]
        self.assertEqual(len(rules), 1)
        self.assertEqual(len(self.emu.iam.get_role(RoleName=ROLE)["Role"]["RoleName"]) > 0, True)
        st = self.emu.wait_phase(job, TERMINAL, timeout=120)
        self.assertEqual(st and st["phase"], "succeeded", "%s\n%s" % (st, self.emu.diagnostics(job)))
        for args in (("status", job), ("cost", job), ("instances", "--all", "--job", job)):
            with self.subTest(args[0]):
                q = self.hoist(*args)
                self.assertEqual(q.returncode, 0, q.stdout + q.stderr)
                self.assertIn(job, q.stdout)

    def test_3_down_with_only_hoists_policy(self):
        p = self.hoist("down", "--yes")
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertEqual(self.emu.ecr.describe_repositories()["repositories"], [])
        with self.assertRaises(self.emu.iam.exceptions.NoSuchEntityException):
            self.emu.iam.get_role(RoleName=ROLE)
        self.assertIn("kept bucket", p.stderr + p.stdout)


if __name__ == "__main__":
    unittest.main()
