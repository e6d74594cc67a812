"""End-to-end tests of the account commands: `hoist instances`, `hoist cost`,
`hoist gc` and `hoist down`, driving the REAL hoist binary against moto on
127.0.0.1 and checking every effect with boto3.  No host runner here: a
launched job stays in `launching`, which is what lets these tests hold a live
job's instance still while they look at it.

    python3 -m unittest tests/e2e/test_admin.py -v
"""
import json
import os
import shutil
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import BUCKET, REGION, Emulator, show, write_tree  # noqa: E402

ROLE = "hoist-instance-%s" % REGION  # the role older versions shared between jobs
TRUST = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
GRANT = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::x/*"}]})
MAIN = "import argparse\nap = argparse.ArgumentParser()\nap.add_argument('-i')\nap.add_argument('-o')\nap.parse_args()\n"


class AdminTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="hoist-admin-e2e-")
        cls.emu = Emulator(cls.tmp, runner=False).start()
        project = write_tree(os.path.join(cls.tmp, "proj"), {"main.py": MAIN, "requirements.txt": ""})
        inp = write_tree(os.path.join(cls.tmp, "in"), {"a.txt": "a\n"})
        p = cls.emu.hoist("run", project, "-i", inp, "-o", os.path.join(cls.tmp, "out"), "--yes", "--detach")
        if p.returncode != 0:
            raise RuntimeError(show(p))
        cls.job = p.stdout.strip()
        cls.instance = cls.emu.job_instances(cls.job)[0]["InstanceId"]

    @classmethod
    def tearDownClass(cls):
        cls.emu.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def hoist(self, *args):
        return self.emu.hoist(*args, timeout=120)

    def state(self, instance_id):
        r = self.emu.ec2.describe_instances(InstanceIds=[instance_id])
        return r["Reservations"][0]["Instances"][0]["State"]["Name"]

    def stray_instance(self, job_id):
        """An instance tagged as hoist's, launched behind hoist's back."""
        image = self.emu.ec2.describe_images()["Images"][0]["ImageId"]
        r = self.emu.ec2.run_instances(
            ImageId=image, InstanceType="t3.micro", MinCount=1, MaxCount=1,
            TagSpecifications=[{"ResourceType": "instance", "Tags": [
                {"Key": "hoist:managed", "Value": "true"}, {"Key": "hoist:job", "Value": job_id}]}])
        return r["Instances"][0]["InstanceId"]

    def test_1_instances_lists_the_running_job(self):
        p = self.hoist("instances", "--json")
        self.assertEqual(p.returncode, 0, show(p))
        rows = json.loads(p.stdout)
        mine = [r for r in rows if r["instance_id"] == self.instance]
        self.assertEqual(len(mine), 1, rows)
        self.assertEqual(mine[0]["job_id"], self.job)
        self.assertEqual(mine[0]["state"], self.state(self.instance))
        self.assertFalse(mine[0]["spot"])
        table = self.hoist("instances")
        self.assertEqual(table.returncode, 0, show(table))
        line = [l for l in table.stdout.splitlines() if self.instance in l]
        self.assertEqual(len(line), 1, table.stdout)
        self.assertIn(self.job, line[0])
        only = self.hoist("instances", "--job", "nosuch-20000101-000000-abcd", "--json")
        self.assertEqual(json.loads(only.stdout), [])

    def test_2_cost_of_a_job_and_of_all(self):
        p = self.hoist("cost", self.job, "--json")
        self.assertEqual(p.returncode, 0, show(p))
        rows = json.loads(p.stdout)
        self.assertEqual(len(rows), 1)
        row = rows[0]
        self.assertEqual(row["job_id"], self.job)
        self.assertEqual(row["phase"], "launching")
        self.assertTrue(row["price_known"])
        self.assertGreaterEqual(row["seconds"], 0)
        self.assertLess(row["seconds"], 600)
        self.assertEqual(row["billed_seconds"], max(60, row["seconds"]))  # EC2's one-minute minimum
        self.assertGreater(row["usd"], 0)
        # the price is the one job.json recorded at launch, times the billed time
        spec = self.emu.get_json("jobs/%s/job.json" % self.job)
        self.assertIsNotNone(spec)
        hourly = spec["resources"]["usd_per_hour"]
        self.assertAlmostEqual(row["usd"], hourly * row["billed_seconds"] / 3600, places=9)
        table = self.hoist("cost")
        self.assertEqual(table.returncode, 0, show(table))
        self.assertIn(self.job, table.stdout)
        self.assertRegex(table.stdout, r"total: \$\d+\.\d+")
        missing = self.hoist("cost", "nosuch-20000101-000000-abcd")
        self.assertEqual(missing.returncode, 16, show(missing))
        bad = self.hoist("cost", "NOT A JOB")
        self.assertEqual(bad.returncode, 15, show(bad))

    def moto_posts(self):
        """How many POST / (EC2, STS, IAM...: every query-protocol call) moto has logged."""
        with open(os.path.join(self.tmp, "moto.log"), errors="replace") as f:
            return sum(1 for line in f if '"POST / HTTP' in line)

    def test_2b_ls_and_cost_of_many_jobs_take_one_ec2_call(self):
        project = os.path.join(self.tmp, "proj")
        inp = os.path.join(self.tmp, "in")
        jobs = [self.job]
        for _ in range(2):
            p = self.hoist("run", project, "-i", inp, "-o", os.path.join(self.tmp, "out"), "--yes", "--detach")
            self.assertEqual(p.returncode, 0, show(p))
            jobs.append(p.stdout.strip())
        in_bucket = {k.split("/")[1] for k in self.emu.listing(BUCKET, "jobs/") if k.endswith("/job.json")}
        self.assertTrue(set(jobs) <= in_bucket, (jobs, in_bucket))

        p = self.hoist("ls", "--json")
        self.assertEqual(p.returncode, 0, show(p))
        listed = {r["job_id"]: r["phase"] for r in json.loads(p.stdout)}
        self.assertEqual(set(listed), in_bucket)
        for j in jobs:
            self.assertEqual(listed[j], self.emu.status(j)["phase"])

        before = self.moto_posts()
        p = self.hoist("cost", "--json")
        posts = self.moto_posts() - before
        self.assertEqual(p.returncode, 0, show(p))
        rows = {r["job_id"]: r for r in json.loads(p.stdout)}
        self.assertEqual(set(rows), in_bucket)
        for j in jobs:
            launched = self.emu.job_instances(j)[0]["LaunchTime"]
            self.assertIsNotNone(launched)
            self.assertEqual(rows[j]["phase"], "launching")
            self.assertGreater(rows[j]["usd"], 0, rows[j])  # billed from its instance's launch
        # STS for the account, then ONE DescribeInstances for every job: not one per job.
        self.assertLessEqual(posts, 2, "hoist cost made %d query-protocol calls for %d jobs" % (posts, len(jobs)))

    def test_2c_cancel_ends_only_an_instance_tagged_for_the_job(self):
        # status.json is the instance's to write: one that names another
        # job's instance must not get it terminated by `hoist cancel`.
        victim = self.stray_instance("other-20260101-000000-abcd")
        job = "liar-20260101-000000-abcd"
        own = self.stray_instance(job)
        status = {"job_id": job, "phase": "failed", "instance_id": victim, "exit_code": None,
                  "error": None, "updated_at": "2026-01-01T00:00:00Z", "phases": {}}
        self.emu.s3.put_object(Bucket=BUCKET, Key="jobs/%s/status.json" % job, Body=json.dumps(status))
        p = self.hoist("cancel", job)
        self.assertEqual(p.returncode, 0, show(p))
        self.assertIn("names instance %s, which is not the job's" % victim, p.stderr)
        self.assertEqual(self.state(victim), "running")
        self.assertIn(self.state(own), ("shutting-down", "terminated"))
        self.emu.ec2.terminate_instances(InstanceIds=[victim])

    def job_role(self, job_id, tagged=True):
        """A job's role and profile as hoist makes them."""
        tags = [{"Key": "hoist:managed", "Value": "true"}, {"Key": "hoist:job", "Value": job_id}]
        self.emu.iam.create_role(RoleName=job_id, Path="/hoist/jobs/", AssumeRolePolicyDocument=TRUST,
                                 Tags=tags if tagged else [])
        self.emu.iam.put_role_policy(RoleName=job_id, PolicyName="job", PolicyDocument=GRANT)
        self.emu.iam.create_instance_profile(InstanceProfileName=job_id, Path="/hoist/jobs/")
        self.emu.iam.add_role_to_instance_profile(InstanceProfileName=job_id, RoleName=job_id)

    def put_status(self, job_id, phase, updated_at):
        self.emu.s3.put_object(Bucket=BUCKET, Key="jobs/%s/status.json" % job_id, Body=json.dumps(
            {"job_id": job_id, "phase": phase, "updated_at": updated_at, "exit_code": None}).encode())

    def job_roles(self):
        return {r["RoleName"] for r in self.emu.iam.list_roles(PathPrefix="/hoist/jobs/")["Roles"]}

    def test_3_gc_ends_only_what_is_left_over(self):
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        stray = self.stray_instance("ghost-20000101-000000-abcd")  # no such job in the bucket
        # a job's instance left running after its job ended, and its role
        ended_job = "ended-20000101-000000-wxyz"
        ended = self.stray_instance(ended_job)
        self.put_status(ended_job, "succeeded", "2000-01-01T00:10:00Z")
        self.job_role(ended_job)
        # the laptop died between the role and RunInstances: never launched
        never = "never-20000101-000000-abcd"
        self.job_role(never)
        self.put_status(never, "launching", "2000-01-01T00:00:00Z")
        # another hoist launching right now: its role stays
        starting = "starting-20000101-000000-abcd"
        self.job_role(starting)
        self.put_status(starting, "launching", now)
        # a role on hoist's path that hoist did not tag: kept, and said so
        foreign = "foreign-20000101-000000-abcd"
        self.job_role(foreign, tagged=False)
        self.put_status(foreign, "failed", "2000-01-01T00:00:00Z")
        # an older hoist's shared role with an ended job's grant on it
        self.emu.iam.create_role(RoleName=ROLE, Path="/hoist/", AssumeRolePolicyDocument=TRUST,
                                 Tags=[{"Key": "hoist:managed", "Value": "true"}])
        self.emu.iam.put_role_policy(RoleName=ROLE, PolicyName="job-" + ended_job, PolicyDocument=GRANT)

        dry = self.hoist("gc", "--dry-run")
        self.assertEqual(dry.returncode, 0, show(dry))
        self.assertIn("would terminate " + stray, dry.stderr)
        self.assertIn("would terminate " + ended, dry.stderr)
        self.assertIn("would remove the role of job %s (succeeded)" % ended_job, dry.stderr)
        self.assertIn("would remove the role of job %s (never launched, or lost)" % never, dry.stderr)
        self.assertIn("would remove per-job policy job-%s of the old shared role" % ended_job, dry.stderr)
        self.assertEqual(self.state(stray), "running")
        self.assertLessEqual({ended_job, never, starting, foreign, self.job}, self.job_roles())

        before = self.moto_posts()
        p = self.hoist("gc")
        posts = self.moto_posts() - before
        self.assertEqual(p.returncode, 0, show(p))
        # STS, DescribeInstances, ListRoles, ListRolePolicies; a GetRole for
        # each of the three roles past their time; ONE TerminateInstances
        # for both instances; four calls to remove each of two roles; one
        # DeleteRolePolicy on the old role. The statuses are S3 GETs.
        self.assertLessEqual(posts, 4 + 3 + 1 + 8 + 1, "hoist gc made %d query-protocol calls" % posts)
        self.assertIn(self.state(stray), ("shutting-down", "terminated"))
        self.assertIn(self.state(ended), ("shutting-down", "terminated"))
        self.assertEqual(self.state(self.instance), "running", "gc ended a live job's instance")
        roles = self.job_roles()
        self.assertNotIn(ended_job, roles)
        self.assertNotIn(never, roles)
        self.assertLessEqual({starting, foreign, self.job}, roles)
        profiles = {x["InstanceProfileName"] for x in self.emu.iam.list_instance_profiles()["InstanceProfiles"]}
        self.assertNotIn(never, profiles)
        self.assertIn("kept role %s: it has no hoist:managed=true tag" % foreign, p.stderr)
        self.assertEqual(self.emu.iam.list_role_policies(RoleName=ROLE)["PolicyNames"], [])
        again = self.hoist("gc")
        self.assertEqual(again.returncode, 0, show(again))
        self.assertIn("nothing to clean up", again.stderr)
        for r in (starting, foreign):
            self.emu.iam.remove_role_from_instance_profile(InstanceProfileName=r, RoleName=r)
            self.emu.iam.delete_instance_profile(InstanceProfileName=r)
            self.emu.iam.delete_role_policy(RoleName=r, PolicyName="job")
            self.emu.iam.delete_role(RoleName=r)

    def test_4_down_asks_then_removes_all_but_the_bucket_then_the_bucket(self):
        no = self.hoist("down")  # stdin is empty: the answer is no
        self.assertEqual(no.returncode, 23, show(no))
        self.assertIn("nothing removed", no.stderr)
        self.assertIn(self.job, self.job_roles())
        # what an older hoist left: its shared role inside its profile
        self.emu.iam.create_instance_profile(InstanceProfileName=ROLE, Path="/hoist/")
        self.emu.iam.add_role_to_instance_profile(InstanceProfileName=ROLE, RoleName=ROLE)

        # someone else's repository under the same prefix, without hoist's tag
        self.emu.ecr.create_repository(repositoryName="hoist/someone-elses")
        p = self.hoist("down", "--yes")
        self.assertEqual(p.returncode, 0, show(p))
        self.assertIn(self.state(self.instance), ("shutting-down", "terminated"))
        repos = [r["repositoryName"] for r in self.emu.ecr.describe_repositories()["repositories"]]
        self.assertEqual([r for r in repos if r.startswith("hoist/")], ["hoist/someone-elses"])
        self.assertIn("kept repository hoist/someone-elses", p.stderr)
        roles = [r["RoleName"] for r in self.emu.iam.list_roles()["Roles"]]
        self.assertNotIn(ROLE, roles)
        self.assertEqual(self.job_roles(), set())
        profiles = [p["InstanceProfileName"] for p in self.emu.iam.list_instance_profiles()["InstanceProfiles"]]
        self.assertEqual([x for x in profiles if x == ROLE or x == self.job], [])
        # the boundary is the administrator's: down keeps it
        self.emu.iam.get_policy(PolicyArn="arn:aws:iam::123456789012:policy/hoist/hoist-job-boundary")
        self.emu.s3.head_bucket(Bucket=BUCKET)  # kept
        self.assertIn("kept bucket " + BUCKET, p.stderr)

        # --bucket may name any bucket: down --all empties only one tagged as hoist's
        self.emu.s3.create_bucket(Bucket="not-hoists")
        self.emu.s3.put_object(Bucket="not-hoists", Key="precious.csv", Body=b"1,2\n")
        other = self.hoist("down", "--all", "--yes", "--bucket", "not-hoists")
        self.assertEqual(other.returncode, 0, show(other))
        self.assertIn("kept bucket not-hoists: it has no hoist:managed=true tag", other.stderr)
        self.assertEqual(self.emu.s3.get_object(Bucket="not-hoists", Key="precious.csv")["Body"].read(),
                         b"1,2\n")

        p = self.hoist("down", "--all", "--yes")
        self.assertEqual(p.returncode, 0, show(p))
        buckets = [b["Name"] for b in self.emu.s3.list_buckets()["Buckets"]]
        self.assertNotIn(BUCKET, buckets)
        # and again, on an empty account: nothing to do, no error, no false claim
        p = self.hoist("down", "--all", "--yes")
        self.assertEqual(p.returncode, 0, show(p))
        p = self.hoist("down", "--yes")
        self.assertEqual(p.returncode, 0, show(p))
        self.assertNotIn("kept bucket", p.stderr)

    def test_5_without_a_bucket(self):
        """After `down --all` (or before any run) there is no bucket: an orphan
        instance is still found and ended, and a job id is simply unknown."""
        self.hoist("down", "--all", "--yes")
        self.assertNotIn(BUCKET, [b["Name"] for b in self.emu.s3.list_buckets()["Buckets"]])
        orphan = self.stray_instance("orphan-20000101-000000-abcd")
        p = self.hoist("gc")
        self.assertEqual(p.returncode, 0, show(p))
        self.assertIn("terminating " + orphan, p.stderr)
        self.assertIn(self.state(orphan), ("shutting-down", "terminated"))
        p = self.hoist("cost", "orphan-20000101-000000-abcd")
        self.assertEqual(p.returncode, 16, show(p))
        self.assertEqual(p.stdout, "")  # no table header before the error
        p = self.hoist("status", "orphan-20000101-000000-abcd")
        self.assertEqual(p.returncode, 16, show(p))
        p = self.hoist("cost", "--json")
        self.assertEqual(p.returncode, 0, show(p))
        self.assertEqual(json.loads(p.stdout), [])


if __name__ == "__main__":
    unittest.main()
