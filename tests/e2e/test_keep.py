"""End-to-end tests of what hoist keeps and for how long: hoist.toml's
[keep] (retention rules, images_kept, repository/images/role = "run", "keep"),
`hoist down --only/--keep/--dry-run` and `hoist gc --blobs`, driving the REAL
hoist binary against moto on 127.0.0.1 and checking every effect with boto3.

    python3 -m unittest tests/e2e/test_keep.py -v
"""
import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
import unittest

import boto3

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import ACCOUNT, BUCKET, REGION, Emulator, show, write_tree  # noqa: E402
from test_run import MIRROR_MAIN as MIRROR  # noqa: E402

TOPIC = "arn:aws:sns:%s:%s:hoist-notifications" % (REGION, ACCOUNT)
GIB = 1 << 30


def manifest(size, salt):
    """An image manifest whose config size moto reports as imageSizeInBytes."""
    return json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                       "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": size,
                                  "digest": "sha256:" + hashlib.sha256(salt.encode()).hexdigest()},
                       "layers": []})


class KeepTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="hoist-keep-e2e-")
        cls.emu = Emulator(cls.tmp).start()
        cls.sns = boto3.client("sns", endpoint_url=cls.emu.endpoint, region_name=REGION,
                               aws_access_key_id="testing", aws_secret_access_key="testing")
        cls.input = write_tree(os.path.join(cls.tmp, "in"), {"a.txt": "alpha\n", "sub/b.txt": "beta\n"})

    @classmethod
    def tearDownClass(cls):
        cls.emu.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def project(self, name, toml, extra=None):
        files = {"main.py": MIRROR, "requirements.txt": "", "hoist.toml": 'name = "%s"\n%s' % (name, toml)}
        files.update(extra or {})
        return write_tree(os.path.join(self.tmp, name), files)

    def run_job(self, project, *args):
        out = tempfile.mkdtemp(dir=self.tmp, prefix="out-")
        p = self.emu.hoist("run", project, "-i", self.input, "-o", out, "--yes", *args)
        self.assertEqual(p.returncode, 0, show(p))
        with open(os.path.join(out, "sub", "b.txt")) as f:
            self.assertEqual(f.read(), "beta\n")
        return p

    def rules(self):
        r = self.emu.s3.get_bucket_lifecycle_configuration(Bucket=BUCKET)["Rules"]
        return {x["ID"]: x for x in r}

    def images_kept(self, repository):
        text = self.emu.ecr.get_lifecycle_policy(repositoryName=repository)["lifecyclePolicyText"]
        return json.loads(text)["rules"][0]["selection"]["countNumber"]

    def repositories(self):
        return sorted(r["repositoryName"] for r in self.emu.ecr.describe_repositories()["repositories"])

    def put_images(self, repository, sizes):
        for i, size in enumerate(sizes):
            self.emu.ecr.put_image(repositoryName=repository, imageTag="t%d" % i,
                                   imageManifest=manifest(size, repository + str(i)))

    def topic(self):
        return self.sns.create_topic(Name="hoist-notifications",
                                     Tags=[{"Key": "hoist:managed", "Value": "true"}])["TopicArn"]

    def topics(self):
        return [t["TopicArn"] for t in self.sns.list_topics()["Topics"]]

    def test_1_retention_writes_the_lifecycle_rules(self):
        proj = self.project("retained", '[keep]\njobs_retention = "30d"\nimages_kept = 3\n')
        self.run_job(proj)
        rules = self.rules()
        self.assertEqual(rules["hoist-jobs-retention"]["Filter"]["Prefix"], "jobs/")
        self.assertEqual(rules["hoist-jobs-retention"]["Expiration"]["Days"], 30)
        self.assertEqual(rules["hoist-jobs-retention"]["Status"], "Enabled")
        # the rule that was there before stays beside it
        self.assertEqual(rules["hoist-abort-incomplete-uploads"]["AbortIncompleteMultipartUpload"],
                         {"DaysAfterInitiation": 1})
        self.assertEqual(self.images_kept("hoist/retained"), 3)
        # a changed setting is applied by the next run; one taken out is taken off
        with open(os.path.join(proj, "hoist.toml"), "w") as f:
            f.write('name = "retained"\n[keep]\njobs_retention = "7d"\nimages_kept = 5\n')
        self.run_job(proj)
        self.assertEqual(self.rules()["hoist-jobs-retention"]["Expiration"]["Days"], 7)
        self.assertEqual(self.images_kept("hoist/retained"), 5)
        with open(os.path.join(proj, "hoist.toml"), "w") as f:
            f.write('name = "retained"\n')
        self.run_job(proj)
        self.assertEqual(sorted(self.rules()), ["hoist-abort-incomplete-uploads"])
        self.assertEqual(self.images_kept("hoist/retained"), 10)

    def test_2_bad_settings_stop_before_aws(self):
        cases = [
            ('[keep]\njobs_retention = "30"\n', "jobs_retention"),
            ('[keep]\nimages_kept = 0\n', "images_kept"),
            ('[keep]\nrepository = "never"\n', 'use "down", "keep", "run"'),
            ('[keep]\nbucket = "run"\n', "jobs_retention"),
            ('[keep]\nimages = "keep"\n', 'repository = "keep"'),
            ('[keep]\nbukket = "keep"\n', "no setting 'bukket'"),
            ('[keep]\nrole = "never"\n', 'use "down", "keep", "run"'),
        ]
        before = self.emu.snapshot()
        for i, (toml, needle) in enumerate(cases):
            with self.subTest(toml):
                proj = self.project("bad%d" % i, toml)
                p = self.emu.hoist("run", proj, "-i", self.input, "-o", os.path.join(self.tmp, "bad-out"), "--yes")
                self.assertEqual(p.returncode, 15, show(p))
                self.assertIn("hoist: error: ", p.stderr)
                self.assertIn(needle, p.stderr)
                self.assertEqual(len(p.stderr.strip().splitlines()), 1, p.stderr)
                d = self.emu.hoist("down", "--dry-run", "--project", proj)
                self.assertEqual(d.returncode, 15, show(d))
        for args, needle in [(("--only", "repository,bukket"), "--only 'bukket'"),
                             (("--only", "role", "--keep", "role"), "both --only and --keep")]:
            p = self.emu.hoist("down", "--yes", *args)
            self.assertEqual(p.returncode, 15, show(p))
            self.assertIn(needle, p.stderr)
        self.assertEqual(self.emu.snapshot(), before)

    def test_3_images_and_repository_after_each_run(self):
        # images = "run": the images go after the run, the repository stays
        proj = self.project("imgrun", '[keep]\nimages = "run"\n')
        self.run_job(proj)  # makes the repository
        self.put_images("hoist/imgrun", [1000, 2000])
        p = self.run_job(proj)
        self.assertIn("hoist/imgrun", self.repositories())
        self.assertEqual(self.emu.ecr.describe_images(repositoryName="hoist/imgrun")["imageDetails"], [])
        self.assertRegex(p.stderr, r"deleted \d+ image\(s\) of hoist/imgrun \(keep: images = \"run\"\)")
        # repository = "run": the repository goes after the run
        proj = self.project("reporun", '[keep]\nrepository = "run"\n')
        p = self.run_job(proj)
        self.assertNotIn("hoist/reporun", self.repositories())
        self.assertIn("deleted repository hoist/reporun", p.stderr)
        # and the next run makes it again, and runs
        self.run_job(proj)
        self.assertNotIn("hoist/reporun", self.repositories())

    def test_4_gc_blobs_deletes_only_unreferenced_blobs(self):
        unique = "print('only gcproj has this file')\n"
        proj = self.project("gcproj", "", {"gconly.py": unique})
        self.run_job(proj)
        blob = "blobs/sha256/" + hashlib.sha256(unique.encode()).hexdigest()
        self.emu.s3.head_object(Bucket=BUCKET, Key=blob)
        jobs = [j for j in self.job_ids() if j.startswith("gcproj-")]
        self.assertEqual(len(jobs), 1)
        # a job still running (its record only): its blob stays
        running_blob = hashlib.sha256(b"running job's input\n").hexdigest()
        self.emu.s3.put_object(Bucket=BUCKET, Key="blobs/sha256/" + running_blob, Body=b"running job's input\n")
        self.emu.s3.put_object(Bucket=BUCKET, Key="jobs/live-20260101-000000-abcd/job.json", Body=json.dumps(
            {"job_id": "live-20260101-000000-abcd", "code": {},
             "inputs": {"x.txt": {"sha256": running_blob, "size": 20, "mode": 420}}}).encode())
        self.emu.s3.put_object(Bucket=BUCKET, Key="jobs/live-20260101-000000-abcd/status.json",
                               Body=b'{"phase": "running"}')
        orphan = hashlib.sha256(b"nobody's\n").hexdigest()
        self.emu.s3.put_object(Bucket=BUCKET, Key="blobs/sha256/" + orphan, Body=b"nobody's\n")
        # gcproj's job goes (as jobs_retention would take it): its blobs are no one's now
        self.delete_prefix("jobs/%s/" % jobs[0])
        self.assertTrue(self.keys("blobs/sets/"))

        # within the grace (24 h by default) nothing goes, but the markers do
        p = self.emu.hoist("gc", "--blobs")
        self.assertEqual(p.returncode, 0, show(p))
        self.assertEqual(self.keys("blobs/sets/"), [])
        self.emu.s3.head_object(Bucket=BUCKET, Key=blob)
        self.emu.s3.head_object(Bucket=BUCKET, Key="blobs/sha256/" + orphan)
        self.assertIn("written in the last 24h", p.stderr)

        time.sleep(2)
        before = set(self.keys("blobs/sha256/"))
        dry = self.emu.hoist("gc", "--blobs", "--blob-grace", "1s", "--dry-run")
        self.assertEqual(dry.returncode, 0, show(dry))
        self.assertEqual(set(self.keys("blobs/sha256/")), before)
        self.assertIn("would delete", dry.stderr)

        referenced = self.referenced()
        p = self.emu.hoist("gc", "--blobs", "--blob-grace", "1s")
        self.assertEqual(p.returncode, 0, show(p))
        after = set(self.keys("blobs/sha256/"))
        self.assertNotIn(blob, after)
        self.assertNotIn("blobs/sha256/" + orphan, after)
        self.assertIn("blobs/sha256/" + running_blob, after)
        # every blob a remaining job names is there, and nothing else went
        self.assertTrue(referenced <= after, referenced - after)
        self.assertEqual(before - after, before - referenced - {"blobs/sha256/" + running_blob})
        self.delete_prefix("jobs/live-20260101-000000-abcd/")

        # a later run of the same project sends its file again, and is right
        p = self.run_job(proj)
        self.emu.s3.head_object(Bucket=BUCKET, Key=blob)
        self.assertTrue(self.keys("blobs/sets/"))

    def test_5_down_only_keep_and_dry_run(self):
        proj = self.project("downproj", '[keep]\nrepository = "keep"\ntopic = "keep"\n')
        self.run_job(proj)
        other = self.project("otherproj", "")
        self.run_job(other)
        self.put_images("hoist/downproj", [GIB + GIB // 2])
        self.put_images("hoist/otherproj", [GIB // 4, GIB // 4])
        topic = self.topic()
        role = "downproj-20260101-000000-beef"  # a job's role left behind
        self.emu.iam.create_role(RoleName=role, Path="/hoist/jobs/", AssumeRolePolicyDocument="{}",
                                 Tags=[{"Key": "hoist:managed", "Value": "true"}])
        before = self.emu.snapshot()
        self.assertIn(role, before["roles"])

        # the dry run changes nothing, says what goes and what stays at what cost
        dry = self.emu.hoist("down", "--dry-run", "--project", proj)
        self.assertEqual(dry.returncode, 0, show(dry))
        self.assertEqual(self.emu.snapshot(), before)
        self.assertIn(topic, self.topics())
        self.assertIn("would delete repository hoist/otherproj", dry.stderr)
        self.assertIn("would delete 1 job role(s)", dry.stderr)
        # (the host runner pushes the run's own small image there too)
        images = self.emu.ecr.describe_images(repositoryName="hoist/downproj")["imageDetails"]
        gb = sum(i.get("imageSizeInBytes") or 0 for i in images) / GIB
        self.assertGreaterEqual(gb, 1.5)
        self.assertIn("stays: repository hoist/downproj (%d images, %.3f GB, $%.2f/month at ECR's $0.100/GB-month)"
                      % (len(images), gb, gb * 0.10), dry.stderr)
        self.assertIn("stays: topic hoist-notifications", dry.stderr)
        size = sum(v[2] for v in self.emu.listing(BUCKET, "").values())
        self.assertIn("stays: bucket %s (%d objects, %.3f GB, $%.2f/month at S3 Standard in us-east-1's "
                      "$0.023/GB-month)" % (BUCKET, len(self.emu.listing(BUCKET, "")), size / GIB,
                                            size / GIB * 0.023), dry.stderr)
        self.assertIn("storage prices: AWS price pages", dry.stderr)

        # --only repository,role: those go, even the one [keep] keeps; the rest stays
        p = self.emu.hoist("down", "--only", "repository,role", "--yes", "--project", proj)
        self.assertEqual(p.returncode, 0, show(p))
        self.assertEqual([r for r in self.repositories() if r.startswith("hoist/")], [])
        self.assertEqual(self.emu.iam.list_roles(PathPrefix="/hoist/jobs/")["Roles"], [])
        self.emu.s3.head_bucket(Bucket=BUCKET)
        self.assertIn(topic, self.topics())
        self.emu.iam.get_policy(PolicyArn="arn:aws:iam::%s:policy/hoist/hoist-job-boundary" % ACCOUNT)

        # plain down keeps what [keep] keeps: the topic here
        self.run_job(proj)
        self.put_images("hoist/downproj", [1000])
        p = self.emu.hoist("down", "--yes", "--project", proj)
        self.assertEqual(p.returncode, 0, show(p))
        self.assertIn(topic, self.topics())
        self.assertIn("hoist/downproj", self.repositories())
        # images follow the repository unless set apart
        self.assertTrue(self.emu.ecr.describe_images(repositoryName="hoist/downproj")["imageDetails"])
        # --only images empties the repository only; --keep keeps this time
        p = self.emu.hoist("down", "--yes", "--only", "images")
        self.assertEqual(p.returncode, 0, show(p))
        self.assertIn("hoist/downproj", self.repositories())
        self.assertEqual(self.emu.ecr.describe_images(repositoryName="hoist/downproj")["imageDetails"], [])
        p = self.emu.hoist("down", "--yes", "--keep", "repository", "--only", "topic")
        self.assertEqual(p.returncode, 0, show(p))
        self.assertNotIn(topic, self.topics())
        self.assertIn("hoist/downproj", self.repositories())
        # a topic of that name without hoist's tag stays
        self.sns.create_topic(Name="hoist-notifications")
        p = self.emu.hoist("down", "--yes", "--only", "topic")
        self.assertIn("kept topic hoist-notifications", p.stderr)
        self.assertIn(TOPIC, self.topics())

    def test_6_role_kept_past_its_job(self):
        def roles():
            return {r["RoleName"] for r in self.emu.iam.list_roles(PathPrefix="/hoist/jobs/")["Roles"]}

        def profiles():
            return {p["InstanceProfileName"] for p in self.emu.iam.list_instance_profiles()["InstanceProfiles"]}

        before = roles()
        # role = "down": the run leaves its job's role and profile, tagged; gc too
        proj = self.project("rolekept", '[keep]\nrole = "down"\n')
        p = self.run_job(proj)
        (role,) = roles() - before
        self.assertIn(role, profiles())
        tags = {t["Key"]: t["Value"] for t in self.emu.iam.list_role_tags(RoleName=role)["Tags"]}
        self.assertEqual(tags.get("hoist:keep"), "down", tags)
        self.assertIn('kept the role of job %s and its instance profile (hoist.toml [keep] role = "down"): '
                      '`hoist down` removes it' % role, p.stderr)
        g = self.emu.hoist("gc")
        self.assertEqual(g.returncode, 0, show(g))
        self.assertIn("kept the role of job " + role, g.stderr)
        self.assertIn(role, roles())
        # cancel of the ended job keeps it too
        c = self.emu.hoist("cancel", role)
        self.assertEqual(c.returncode, 0, show(c))
        self.assertIn(role, roles())
        # role = "keep": plain down leaves it, down --only role takes it
        kept_proj = self.project("rolekeep", '[keep]\nrole = "keep"\n')
        self.run_job(kept_proj)
        (kept,) = roles() - before - {role}
        d = self.emu.hoist("down", "--yes")
        self.assertEqual(d.returncode, 0, show(d))
        self.assertNotIn(role, roles())
        self.assertNotIn(role, profiles())
        self.assertIn(kept, roles())
        self.assertIn('kept the role of job %s and its instance profile (hoist.toml [keep] role = "keep")' % kept,
                      d.stderr)
        d = self.emu.hoist("down", "--yes", "--only", "role")
        self.assertEqual(d.returncode, 0, show(d))
        self.assertNotIn(kept, roles())
        self.assertNotIn(kept, profiles())
        # the default: the role goes with its job
        p = self.run_job(self.project("rolerun", ""))
        self.assertEqual(roles() - before, set())
        self.assertNotIn("kept the role", p.stderr)

    def job_ids(self):
        r = self.emu.s3.list_objects_v2(Bucket=BUCKET, Prefix="jobs/", Delimiter="/")
        return [p["Prefix"][len("jobs/"):-1] for p in r.get("CommonPrefixes", [])]

    def keys(self, prefix):
        return sorted(self.emu.listing(BUCKET, prefix))

    def delete_prefix(self, prefix):
        for k in self.keys(prefix):
            self.emu.s3.delete_object(Bucket=BUCKET, Key=k)

    def referenced(self):
        out = set()
        for j in self.job_ids():
            spec = self.emu.get_json("jobs/%s/job.json" % j)
            if not spec:
                continue
            for part in (spec.get("code") or {}, spec.get("inputs") or {},
                         (spec.get("checkpoint") or {}).get("seed") or {}):
                out |= {"blobs/sha256/" + e["sha256"] for e in part.values()}
            if spec.get("agent"):
                out.add("blobs/sha256/" + spec["agent"]["sha256"])
        return out


if __name__ == "__main__":
    unittest.main()
