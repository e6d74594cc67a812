"""End-to-end tests of --notify (issue 12): the REAL hoist binary against
moto on 127.0.0.1; what the instance published is read from moto's SNS
backend (/moto-api/data.json) and from a webhook receiver on 127.0.0.1,
for a job that succeeds, one that fails and one that is cancelled.

    python3 -m unittest tests/e2e/test_notify.py -v
"""
import http.server
import json
import os
import sys
import tempfile
import threading
import time
import unittest
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import BUCKET, Emulator, release, show, write_tree  # noqa: E402

MAIN = '''import argparse, os, sys, time
ap = argparse.ArgumentParser()
ap.add_argument("-i")
ap.add_argument("-o")
ap.add_argument("--fail", action="store_true")
ap.add_argument("--sleep", type=float, default=0)
a = ap.parse_args()
for n in range(30):
    print("line", n, flush=True)
time.sleep(a.sleep)
open(os.path.join(a.o, "done.txt"), "w").write("done")
if a.fail:
    print("boom: the model diverged", flush=True)
    sys.exit(3)
'''
SECRET_PATH = "/services/T000/B000/hook-secret-token"


class Receiver(http.server.ThreadingHTTPServer):
    """A webhook on 127.0.0.1 that keeps every POST's JSON; its first
    answer can be made to fail, to see the instance try again."""

    def __init__(self):
        self.posts = []
        self.fail_next = 0
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if outer.fail_next:
                    outer.fail_next -= 1
                    self.send_response(503)
                    self.end_headers()
                    return
                outer.posts.append((self.path, self.headers.get("Content-Type"), json.loads(body)))
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")
        super().__init__(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self):
        return "http://127.0.0.1:%d%s" % (self.server_address[1], SECRET_PATH)

    def wait_for(self, job_id, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            found = [p for _, _, p in self.posts if p.get("job_id") == job_id]
            if found:
                return found
            time.sleep(0.2)
        return []


class NotifyTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="hoist-notify-e2e-")
        cls.emu = Emulator(cls.tmp).start()
        cls.hook = Receiver()
        cls.project = write_tree(os.path.join(cls.tmp, "proj"), {"main.py": MAIN, "requirements.txt": ""})
        cls.inp = write_tree(os.path.join(cls.tmp, "in"), {"a.txt": "a\n"})
        import boto3
        cls.sns = boto3.client("sns", endpoint_url=cls.emu.endpoint, region_name="us-east-1",
                               aws_access_key_id="testing", aws_secret_access_key="testing")

    @classmethod
    def tearDownClass(cls):
        cls.hook.shutdown()
        release(cls.emu, cls.tmp)

    def run_job(self, *extra, out="out"):
        return self.emu.hoist("run", self.project, "-i", self.inp, "-o", os.path.join(self.tmp, out), "--yes",
                              "--notify", "me@example.com", "--notify", self.hook.url, *extra, timeout=300)

    def topic(self):
        (arn,) = [t["TopicArn"] for t in self.sns.list_topics()["Topics"] if t["TopicArn"].endswith(":hoist-notifications")]
        return arn

    def published(self, job_id):
        """What the instance published to the topic, as moto keeps it."""
        with urllib.request.urlopen(self.emu.endpoint + "/moto-api/data.json", timeout=10) as r:
            data = json.loads(r.read())
        sent = []
        for topic in data.get("sns", {}).get("Topic", []):
            if topic.get("arn", "").endswith(":hoist-notifications"):
                sent += [n for n in topic.get("sent_notifications", []) if job_id in n[1]]
        return sent

    def job_id_of(self, p):
        for line in p.stderr.splitlines():
            if line.startswith("hoist: job "):
                return line.split()[2]
        self.fail("no job line: " + p.stderr)

    def check_secret_kept(self, p, job_id):
        self.assertNotIn("hook-secret-token", p.stderr + p.stdout)
        log = self.emu.s3.get_object(Bucket=BUCKET, Key="jobs/%s/logs/bootstrap.log" % job_id)["Body"].read()
        self.assertNotIn(b"hook-secret-token", log)

    def test_1_a_job_that_succeeds_is_told_by_mail_and_webhook(self):
        self.hook.fail_next = 1  # the instance tries again
        p = self.run_job()
        self.assertEqual(p.returncode, 0, show(p))
        job_id = self.job_id_of(p)
        self.assertIn("hoist: AWS sent a confirmation mail to me@example.com: open it and confirm", p.stderr)
        subs = self.sns.list_subscriptions_by_topic(TopicArn=self.topic())["Subscriptions"]
        self.assertEqual([(s["Protocol"], s["Endpoint"]) for s in subs], [("email", "me@example.com")])
        tags = {t["Key"]: t["Value"] for t in self.sns.list_tags_for_resource(ResourceArn=self.topic())["Tags"]}
        self.assertEqual(tags.get("hoist:managed"), "true")

        (post,) = self.hook.wait_for(job_id)
        self.assertEqual(self.hook.posts[-1][0], SECRET_PATH)
        self.assertEqual(self.hook.posts[-1][1], "application/json")
        self.assertEqual((post["phase"], post["exit_code"], post["project"]), ("succeeded", 0, "proj"))
        self.assertTrue(post["text"].startswith("hoist: job %s (proj) succeeded (exit 0) after " % job_id), post)
        self.assertIn("outputs: https://s3.console.aws.amazon.com/s3/buckets/%s?region=us-east-1&prefix=jobs/%s/output/"
                      % (BUCKET, job_id), post["text"])
        self.assertIn("line 29", post["log_tail"])
        self.assertNotIn("line 9\n", post["log_tail"])  # the last 20 lines only
        self.assertGreater(post["cost_usd"], 0)
        self.assertGreaterEqual(post["duration_seconds"], 0)
        self.assertIn("line 29", post["text"])

        (mail,) = self.published(job_id)
        self.assertEqual(mail[2], "hoist: %s succeeded" % job_id)  # the subject
        self.assertEqual(mail[1], post["text"])
        self.check_secret_kept(p, job_id)

    def test_2_a_failed_job_is_told_and_the_address_is_not_subscribed_again(self):
        p = self.run_job("--", "--fail")
        self.assertEqual(p.returncode, 3, show(p))  # the script's own status
        job_id = self.job_id_of(p)
        self.assertNotIn("confirmation mail", p.stderr)
        self.assertEqual(len(self.sns.list_subscriptions_by_topic(TopicArn=self.topic())["Subscriptions"]), 1)
        (post,) = self.hook.wait_for(job_id)
        self.assertEqual((post["phase"], post["exit_code"]), ("failed", 3))
        self.assertIn("error: the script exited with status 3", post["text"])
        self.assertIn("boom: the model diverged", post["log_tail"])
        (mail,) = self.published(job_id)
        self.assertEqual(mail[2], "hoist: %s failed" % job_id)

    def test_3_a_cancelled_job_is_told(self):
        p = self.run_job("--detach", "--", "--sleep", "120")
        self.assertEqual(p.returncode, 0, show(p))
        job_id = p.stdout.strip().splitlines()[-1]
        self.emu.wait_phase(job_id, ("running",), timeout=120)
        deadline = time.time() + 60  # its output shipped: the script is at its sleep
        while time.time() < deadline and b"line 29" not in b"".join(
                self.emu.objects(BUCKET, "jobs/%s/logs/job/" % job_id).values()):
            time.sleep(0.5)
        c = self.emu.hoist("cancel", job_id)
        self.assertEqual(c.returncode, 0, show(c))
        (post,) = self.hook.wait_for(job_id, timeout=90)
        self.assertEqual(post["phase"], "cancelled")
        self.assertIn("line 29", post["log_tail"])
        deadline = time.time() + 30
        while not self.published(job_id) and time.time() < deadline:
            time.sleep(0.5)
        (mail,) = self.published(job_id)
        self.assertEqual(mail[2], "hoist: %s cancelled" % job_id)

    def test_4_a_target_that_is_neither_is_refused_before_anything_is_made(self):
        before = self.emu.snapshot()
        topics = self.sns.list_topics()["Topics"]
        for target, needle in (("me-at-example.com", "is neither an e-mail address nor a webhook"),
                               ("http://hooks.example.com" + SECRET_PATH, "use https://")):
            p = self.emu.hoist("run", self.project, "-i", self.inp, "-o", os.path.join(self.tmp, "o4"), "--yes",
                               "--notify", target)
            self.assertEqual(p.returncode, 15, show(p))
            self.assertIn(needle, p.stderr)
            self.assertNotIn("hook-secret-token", p.stderr)
        self.assertEqual(self.emu.snapshot(), before)
        self.assertEqual(self.sns.list_topics()["Topics"], topics)


    def test_5_keep_instance_leaves_it_up_for_a_session_until_cancel(self):
        p = self.emu.hoist("run", self.project, "-i", self.inp, "-o", os.path.join(self.tmp, "o5"), "--yes",
                           "--keep-instance", "--max-runtime", "10m", timeout=300)
        self.assertEqual(p.returncode, 0, show(p))
        job_id = self.job_id_of(p)
        (inst,) = self.emu.job_instances(job_id)
        iid = inst["InstanceId"]
        self.assertIn("hoist: the instance %s stays up until its deadline, 10m after launch (--keep-instance): "
                      "`aws ssm start-session --target %s --region us-east-1`; `hoist cancel %s` ends it now"
                      % (iid, iid, job_id), p.stderr)
        self.assertEqual(self.emu.status(job_id)["phase"], "succeeded")
        time.sleep(3)  # the script is over, the instance is not
        (inst,) = self.emu.job_instances(job_id)
        self.assertEqual(inst["State"]["Name"], "running")
        self.emu.iam.get_role(RoleName=job_id)  # Session Manager needs it
        policy = json.loads(json.dumps(self.emu.iam.get_role_policy(RoleName=job_id, PolicyName="job")["PolicyDocument"]))
        self.assertIn("SessionManager", [st.get("Sid") for st in policy["Statement"]])
        c = self.emu.hoist("cancel", job_id)
        self.assertEqual(c.returncode, 0, show(c))
        self.assertEqual(self.emu.wait_instances_terminated(job_id), ["terminated"])
        with self.assertRaises(self.emu.iam.exceptions.NoSuchEntityException):
            self.emu.iam.get_role(RoleName=job_id)


    def test_6_a_kept_instance_still_ends_itself_at_its_deadline(self):
        t0 = time.time()
        p = self.emu.hoist("run", self.project, "-i", self.inp, "-o", os.path.join(self.tmp, "o6"), "--yes",
                           "--keep-instance", "--max-runtime", "50s", timeout=300)
        self.assertEqual(p.returncode, 0, show(p))
        job_id = self.job_id_of(p)
        self.assertEqual(self.emu.wait_instances_terminated(job_id, timeout=120), ["terminated"])
        self.assertGreater(time.time() - t0, 45)  # not before its deadline
        st = self.emu.status(job_id)
        self.assertEqual(st["phase"], "succeeded")  # the job's end stays what it was


if __name__ == "__main__":
    unittest.main()
