"""Thirty jobs at once in one account, each writing to another bucket.

Each job has a role of its own, so the grants of many jobs never pile up on
one role (IAM allows a role 10,240 characters of inline policy: with the one
role older versions shared, a few dozen foreign -o grants filled it). Every
job must succeed, its outputs must land under its own prefix of the other
bucket, and no role may be left behind. The instances run in the process
runtime: the point is the account, not the containers.

    python3 -m unittest tests/e2e/test_many_jobs.py -v
"""
import os
import shutil
import sys
import tempfile
import unittest
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Emulator, show, write_tree  # noqa: E402

JOBS = 30
OTHER = "another-bucket"
MAIN = """import argparse, os
ap = argparse.ArgumentParser()
ap.add_argument('-i'); ap.add_argument('-o'); ap.add_argument('--n')
a = ap.parse_args()
with open(os.path.join(a.o, 'n.txt'), 'w') as f:
    f.write(a.n + ':' + open(os.path.join(a.i, 'x.txt')).read())
"""


class ManyJobsTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="hoist-many-e2e-")
        cls.emu = Emulator(cls.tmp, runtime="process").start()

    @classmethod
    def tearDownClass(cls):
        cls.emu.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_thirty_jobs_at_once_with_a_foreign_output(self):
        emu = self.emu
        emu.s3.create_bucket(Bucket=OTHER)
        project = write_tree(os.path.join(self.tmp, "p"), {"main.py": MAIN, "requirements.txt": ""})
        inp = write_tree(os.path.join(self.tmp, "in"), {"x.txt": "same input\n"})
        # The account is made once, as a first run does, so the thirty race
        # only for what every run makes: its own role.
        first = emu.hoist("run", project, "-i", inp, "-o", "s3://%s/warm/" % OTHER, "--yes", "--", "--n", "0")
        self.assertEqual(first.returncode, 0, show(first) + emu.diagnostics())

        def run(n):
            return emu.hoist("run", project, "-i", inp, "-o", "s3://%s/run-%d/" % (OTHER, n), "--yes",
                             "--", "--n", str(n), timeout=600)

        with ThreadPoolExecutor(JOBS) as pool:
            results = list(pool.map(run, range(1, JOBS + 1)))
        failed = [(n, show(p)) for n, p in enumerate(results, 1) if p.returncode != 0]
        self.assertEqual(failed, [], emu.diagnostics())
        for n in range(1, JOBS + 1):
            body = emu.s3.get_object(Bucket=OTHER, Key="run-%d/n.txt" % n)["Body"].read()
            self.assertEqual(body, b"%d:same input\n" % n)
        # every role went with its job; none was shared
        self.assertEqual(emu.iam.list_roles(PathPrefix="/hoist/")["Roles"], [])
        self.assertEqual(emu.live_hoist_instances(), [])


if __name__ == "__main__":
    unittest.main()
