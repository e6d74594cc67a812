"""End-to-end tests of hoist's own bucket: its predictable name
hoist-<account>-<region> taken by another account, --bucket / HOIST_BUCKET /
hoist.toml's bucket instead, the owner header on every request to it, and
its settings converging on every run. The real hoist binary against moto on
127.0.0.1, checked with boto3.

moto 5 does not check x-amz-expected-bucket-owner (it serves any account's
bucket to any other), so the owner tests run moto behind the harness's
BucketOwnerCheck (tests/tools/moto_keepalive.py --check-bucket-owner), which
refuses a mismatched owner as S3 does and logs which requests carried one.

    python3 -m unittest tests/e2e/test_bucket.py -v
"""
import json
import os
import sys
import tempfile
import unittest

import boto3

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import ACCOUNT, BUCKET, REGION, Emulator, moto_keepalive, release, tree, write_tree  # noqa: E402
from test_run import MIRROR_MAIN, SMALL, error_lines, job_id_of, show  # noqa: E402

OTHER_ACCOUNT = "111111111111"
OWN = "e2e-own-bucket"  # the name chosen instead


def other_account(emu):
    """boto3 S3 as another moto account: moto keys an account by the access
    key, and STS AssumeRole into a role ARN of that account gives its keys."""
    sts = boto3.client("sts", endpoint_url=emu.endpoint, region_name=REGION,
                       aws_access_key_id="testing", aws_secret_access_key="testing")
    c = sts.assume_role(RoleArn="arn:aws:iam::%s:role/squatter" % OTHER_ACCOUNT,
                        RoleSessionName="squatter")["Credentials"]
    kw = dict(endpoint_url=emu.endpoint, region_name=REGION, aws_access_key_id=c["AccessKeyId"],
              aws_secret_access_key=c["SecretAccessKey"], aws_session_token=c["SessionToken"])
    assert boto3.client("sts", **kw).get_caller_identity()["Account"] == OTHER_ACCOUNT
    return boto3.client("s3", **kw)


class Base(unittest.TestCase):
    server, server_args = "moto_server", ()

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="hoist-bucket-e2e-")
        cls.emu = Emulator(cls.tmp, server=cls.server, server_args=cls.server_args).start()
        cls.s3 = cls.emu.s3
        cls.mirror = write_tree(os.path.join(cls.tmp, "mirror"), {"main.py": MIRROR_MAIN, "requirements.txt": ""})
        cls.small = write_tree(os.path.join(cls.tmp, "small-input"), SMALL)

    @classmethod
    def tearDownClass(cls):
        release(cls.emu, cls.tmp)

    def moto_log(self):
        self.emu.moto_log.flush()
        with open(os.path.join(self.tmp, "moto.log"), errors="replace") as f:
            return f.read()

    def out(self, name):
        return tempfile.mkdtemp(prefix=name + "-", dir=self.tmp)


class TakenTests(Base):
    """hoist-<our account>-<region> made first by another account."""
    server, server_args = "keepalive", ("--check-bucket-owner",)

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.squatter = other_account(cls.emu)
        cls.squatter.create_bucket(Bucket=BUCKET)

    def owners_sent(self, bucket, log_text):
        """The owners sent with each S3 request to `bucket` (None: none)."""
        return [owner for _, b, owner in moto_keepalive.owner_lines(log_text) if b == bucket]

    def test_01_taken_stops_before_anything_is_uploaded(self):
        before = self.emu.snapshot()
        start = len(self.moto_log())
        p = self.emu.hoist("run", self.mirror, "-i", self.small, "-o", self.out("taken"), "--yes")
        sent = self.owners_sent(BUCKET, self.moto_log()[start:])  # hoist's requests only
        self.assertEqual(p.returncode, 17, show(p))
        errors = error_lines(p.stderr)
        self.assertEqual(len(errors), 1, p.stderr)
        self.assertIn(BUCKET, errors[0])
        self.assertIn("--bucket NAME", errors[0])
        # nothing in the squatter's bucket, nothing made in ours
        self.assertEqual(self.squatter.list_objects_v2(Bucket=BUCKET).get("KeyCount"), 0)
        with self.assertRaises(self.squatter.exceptions.ClientError):
            self.squatter.get_bucket_tagging(Bucket=BUCKET)  # not re-tagged as hoist's
        self.assertEqual(self.emu.snapshot(), before)
        self.assertTrue(sent, "no request reached the bucket")
        self.assertEqual(set(sent), {ACCOUNT})

    def test_02_bad_bucket_name(self):
        before = self.emu.snapshot()
        for args, env in ((["--bucket", "Has_Capitals"], {}), ([], {"HOIST_BUCKET": "a"})):
            p = self.emu.hoist("run", self.mirror, "-i", self.small, "-o", self.out("bad"), "--yes", *args, env=env)
            self.assertEqual(p.returncode, 15, show(p))
            self.assertIn("is not an S3 bucket name", p.stderr)
        self.assertEqual(self.emu.snapshot(), before)

    def test_03_another_name_end_to_end(self):
        start = len(self.moto_log())
        out = self.out("own")
        p = self.emu.hoist("run", self.mirror, "-i", self.small, "-o", out, "--yes", "--bucket", OWN,
                           timeout=400)
        sent = self.owners_sent(OWN, self.moto_log()[start:])  # hoist's and the instance's requests
        job_id = job_id_of(p.stderr)
        self.assertEqual(p.returncode, 0, show(p) + self.emu.diagnostics(job_id))
        self.assertEqual(tree(out), {k: v for k, v in SMALL.items()})
        spec = json.loads(self.s3.get_object(Bucket=OWN, Key="jobs/%s/job.json" % job_id)["Body"].read())
        self.assertEqual(spec["bucket"], OWN)
        status = json.loads(self.s3.get_object(Bucket=OWN, Key="jobs/%s/status.json" % job_id)["Body"].read())
        self.assertEqual(status["phase"], "succeeded")
        self.assertEqual(self.s3.get_public_access_block(Bucket=OWN)["PublicAccessBlockConfiguration"]
                         ["BlockPublicPolicy"], True)
        self.assertEqual(self.squatter.list_objects_v2(Bucket=BUCKET).get("KeyCount"), 0)
        # Every request to it, from the laptop and from the instance, carried
        # our account as its owner.
        self.assertGreater(len(sent), 10)
        self.assertEqual(set(sent), {ACCOUNT})
        # the job commands find it with --bucket, and with HOIST_BUCKET
        p = self.emu.hoist("status", job_id, "--json", "--bucket", OWN)
        self.assertEqual(p.returncode, 0, show(p))
        self.assertEqual(json.loads(p.stdout)["phase"], "succeeded")
        p = self.emu.hoist("logs", job_id, env={"HOIST_BUCKET": OWN})
        self.assertEqual(p.returncode, 0, show(p))
        self.assertIn("mirror done", p.stdout)
        res = self.out("results")
        p = self.emu.hoist("results", job_id, "-o", res, "--bucket", OWN)
        self.assertEqual(p.returncode, 0, show(p))
        self.assertEqual(tree(res), SMALL)

    def test_04_project_file_bucket(self):
        project = write_tree(os.path.join(self.tmp, "toml-project"),
                             {"main.py": MIRROR_MAIN, "requirements.txt": "",
                              "hoist.toml": 'bucket = "e2e-toml-bucket"\n'})
        before = self.emu.snapshot()
        p = self.emu.hoist("run", project, "-i", self.small, "-o", self.out("toml"), "--dry-run")
        self.assertEqual(p.returncode, 0, show(p))
        self.assertIn("(bucket e2e-toml-bucket)", p.stderr)
        self.assertIn("bucket e2e-toml-bucket: would be created", p.stderr)
        self.assertEqual(self.emu.snapshot(), before)

    def test_05_not_hoists_bucket(self):
        # A bucket of the account's own, with tags but not hoist's: hoist
        # would replace its tags, policy and lifecycle rules; it refuses.
        self.s3.create_bucket(Bucket="e2e-team-bucket")
        self.s3.put_bucket_tagging(Bucket="e2e-team-bucket", Tagging={"TagSet": [{"Key": "team", "Value": "x"}]})
        p = self.emu.hoist("run", self.mirror, "-i", self.small, "-o", self.out("team"), "--yes",
                           "--bucket", "e2e-team-bucket")
        self.assertEqual(p.returncode, 17, show(p))
        self.assertIn("not hoist:managed=true", p.stderr)
        self.assertEqual(self.s3.get_bucket_tagging(Bucket="e2e-team-bucket")["TagSet"],
                         [{"Key": "team", "Value": "x"}])
        self.assertEqual(self.s3.list_objects_v2(Bucket="e2e-team-bucket").get("KeyCount"), 0)


class ConvergeTests(Base):
    """A bucket as a first run interrupted just after CreateBucket leaves it."""

    def test_bare_bucket_is_hardened_then_left_alone(self):
        self.s3.create_bucket(Bucket=BUCKET)  # bare: no settings, no tags
        dry = self.emu.hoist("run", self.mirror, "-i", self.small, "-o", self.out("dry"), "--dry-run")
        self.assertEqual(dry.returncode, 0, show(dry))
        self.assertIn("bucket %s: exists (its settings would be applied again)" % BUCKET, dry.stderr)
        with self.assertRaises(self.s3.exceptions.ClientError):
            self.s3.get_public_access_block(Bucket=BUCKET)  # a dry run changed nothing
        p = self.emu.hoist("run", self.mirror, "-i", self.small, "-o", self.out("bare"), "--yes", timeout=400)
        self.assertEqual(p.returncode, 0, show(p) + self.emu.diagnostics(job_id_of(p.stderr)))
        block = self.s3.get_public_access_block(Bucket=BUCKET)["PublicAccessBlockConfiguration"]
        self.assertEqual(block, {"BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True,
                                 "RestrictPublicBuckets": True})
        rules = self.s3.get_bucket_encryption(Bucket=BUCKET)["ServerSideEncryptionConfiguration"]["Rules"]
        self.assertEqual(rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"], "AES256")
        life = self.s3.get_bucket_lifecycle_configuration(Bucket=BUCKET)["Rules"]
        self.assertEqual([r["ID"] for r in life], ["hoist-abort-incomplete-uploads"])
        self.assertEqual(life[0]["AbortIncompleteMultipartUpload"], {"DaysAfterInitiation": 1})
        tags = {t["Key"]: t["Value"] for t in self.s3.get_bucket_tagging(Bucket=BUCKET)["TagSet"]}
        self.assertEqual(tags, {"hoist:managed": "true", "hoist:hardening": "1"})
        # Over plain http the TLS-only policy would deny hoist's own requests
        # (moto evaluates it): it is set only over https.
        with self.assertRaises(self.s3.exceptions.ClientError) as e:
            self.s3.get_bucket_policy(Bucket=BUCKET)
        self.assertEqual(e.exception.response["Error"]["Code"], "NoSuchBucketPolicy")

        # A run on the hardened bucket: one GetBucketTagging, nothing applied.
        start = len(self.moto_log())
        p = self.emu.hoist("run", self.mirror, "-i", self.small, "-o", self.out("again"), "--yes", timeout=400)
        self.assertEqual(p.returncode, 0, show(p))
        lines = [line for line in self.moto_log()[start:].splitlines() if "/%s?" % BUCKET in line]
        self.assertEqual(sum(1 for line in lines if '"GET /%s?tagging' % BUCKET in line), 1, lines)
        self.assertEqual([line for line in lines if '"PUT /' in line], [])


if __name__ == "__main__":
    unittest.main()
