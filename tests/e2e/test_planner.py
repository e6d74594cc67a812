"""End-to-end tests of the planner (issue 13): the REAL hoist binary against
moto on 127.0.0.1, its on-demand prices from a local Pricing API stand-in
(pricing_stub.py: moto has none), each outcome checked with boto3 and by
hand calculation.

    python3 -m unittest tests/e2e/test_planner.py -v
"""
import datetime
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import REGION, Emulator, show, write_tree  # noqa: E402
from pricing_stub import PricingStub  # noqa: E402

EBS = 0.08 / 730  # gp3 list price per GiB-hour, as hoist prices the disk
# The stand-in's prices: the GPU types and a few CPU ones, none as in hoist's
# bundled table, so a figure shows which one it came from.
PRICES = {"g4dn.xlarge": 0.61, "g4dn.2xlarge": 0.88, "g5.xlarge": 1.2, "g6.xlarge": 0.95, "g6e.xlarge": 2.0,
          "p3.2xlarge": 3.5, "m7g.xlarge": 0.19, "m7i.xlarge": 0.24, "c7i.xlarge": 0.21, "c7g.xlarge": 0.17,
          "r7g.xlarge": 0.25, "r7i.xlarge": 0.3, "t3.medium": 3.6}
MAIN = ("import argparse, os, time\nap = argparse.ArgumentParser()\nap.add_argument('-i')\nap.add_argument('-o')\n"
        "ap.add_argument('--sleep', type=float, default=0)\na = ap.parse_args()\ntime.sleep(a.sleep)\n"
        "open(os.path.join(a.o, 'done.txt'), 'w').write('done')\n")


def stamp(s):
    return datetime.datetime.strptime(s[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=datetime.timezone.utc)


def usd(v):
    """As hoist prints a price."""
    return "$%.2f" % v if v >= 0.1 else "$%.4f" % v if v >= 0.001 else "$%.6f" % v


class PlannerTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="hoist-planner-e2e-")
        cls.emu = Emulator(cls.tmp, runtime="process").start()
        cls.stub = PricingStub(PRICES).start()
        cls.project = write_tree(os.path.join(cls.tmp, "proj"), {"main.py": MAIN, "requirements.txt": ""})
        cls.inp = write_tree(os.path.join(cls.tmp, "in"), {"a.txt": "a\n"})

    @classmethod
    def tearDownClass(cls):
        cls.stub.stop()
        cls.emu.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def hoist(self, *args, pricing=True, timeout=240):
        env = {"AWS_ENDPOINT_URL_PRICING": self.stub.endpoint} if pricing else {}
        return self.emu.hoist(*args, env=env, timeout=timeout)

    def run_job(self, *extra, out="out"):
        return self.hoist("run", self.project, "-i", self.inp, "-o", os.path.join(self.tmp, out), "--yes", *extra)

    def region_types(self):
        """The region's current-generation types offered in a zone, by boto3."""
        offered = {o["InstanceType"] for page in self.emu.ec2.get_paginator(
            "describe_instance_type_offerings").paginate(LocationType="availability-zone")
            for o in page["InstanceTypeOfferings"]}
        types = {}
        for page in self.emu.ec2.get_paginator("describe_instance_types").paginate():
            for t in page["InstanceTypes"]:
                if t["CurrentGeneration"] and ".metal" not in t["InstanceType"] and t["InstanceType"] in offered:
                    types[t["InstanceType"]] = t
        return types

    def fits(self, arch=None):
        """By hand: (price, type) of the priced types with >= 4 vCPUs and >= 16
        GiB, no GPU, not burstable, cheapest first."""
        out = []
        for n, t in self.region_types().items():
            arm = "arm64" in t["ProcessorInfo"]["SupportedArchitectures"]
            if (n in PRICES and t["VCpuInfo"]["DefaultVCpus"] >= 4 and t["MemoryInfo"]["SizeInMiB"] >= 16384
                    and "GpuInfo" not in t and not re.match(r"t\d", n)
                    and arch in (None, "arm64" if arm else "x86_64")):
                out.append((PRICES[n], n))
        return sorted(out)

    def test_1_types_gpus_lists_gpu_types_with_prices_and_their_sources(self):
        p = self.hoist("types", "--gpus", "1", "--json")
        self.assertEqual(p.returncode, 0, show(p))
        out = json.loads(p.stdout)
        rows = out["types"]
        want = {n for n, t in self.region_types().items() if sum(g["Count"] for g in t.get("GpuInfo", {}).get(
            "Gpus", [])) >= 1}
        self.assertEqual({r["instance_type"] for r in rows}, want)
        self.assertEqual(out["types_source"], "DescribeInstanceTypes")
        for r in rows:
            self.assertGreaterEqual(r["gpus"], 1, r)
            if r["instance_type"] in PRICES:
                self.assertAlmostEqual(r["on_demand_usd_per_hour"], PRICES[r["instance_type"]], places=9)
                self.assertEqual(r["on_demand_source"], "Pricing API")
            elif r["on_demand_usd_per_hour"] is not None:
                self.assertIn("bundled table", r["on_demand_source"])
            self.assertAlmostEqual(r["spot_usd_per_hour"], 0.00001, places=9)  # moto's spot price
            self.assertEqual(r["spot_source"], "DescribeSpotPriceHistory, now, lowest zone")
        priced = [r["on_demand_usd_per_hour"] for r in rows if r["on_demand_usd_per_hour"] is not None]
        self.assertEqual(priced, sorted(priced), "cheapest first")
        self.assertEqual(rows[0]["instance_type"], "g4dn.xlarge")
        self.assertEqual(rows[0]["gpu"], "T4")
        # The table, a second time from the cache, says so.
        p = self.hoist("types", "--gpus", "1")
        self.assertEqual(p.returncode, 0, show(p))
        first = p.stdout.splitlines()[1].split()
        self.assertEqual(first[:4], ["g4dn.xlarge", "4", "16", "x86_64"])
        self.assertIn("$0.61", p.stdout.splitlines()[1])
        self.assertRegex(p.stdout, r"types in us-east-1 \(DescribeInstanceTypes, cached \d+ s ago\)")
        self.assertRegex(p.stdout, r"on-demand: Linux list price \(Pricing API, cached \d+ s ago\)")
        # --gpu-type narrows it.
        p = self.hoist("types", "--gpu-type", "a10g", "--json")
        self.assertEqual({r["gpu"] for r in json.loads(p.stdout)["types"]}, {"A10G"})
        # A request nothing fits: one line, exit 15.
        p = self.hoist("types", "--gpus", "64")
        self.assertEqual(p.returncode, 15, show(p))
        self.assertIn("no instance type in us-east-1 has >= 64 GPU(s)", p.stderr)

    def test_2_run_picks_the_cheapest_fitting_type_and_names_the_runner_up(self):
        before = self.emu.snapshot()
        p = self.run_job("--cpus", "4", "--memory", "16", "--dry-run")
        self.assertEqual(p.returncode, 0, show(p))
        (price, best), (second_price, second) = self.fits()[:2]
        self.assertEqual(best, "m7g.xlarge")
        self.assertIn("hoist: plan: %s (4 vCPU, 16 GiB), on-demand" % best, p.stderr)
        self.assertRegex(p.stderr, r"why %s: the cheapest on-demand of \d+ fitting types \(>= 4 vCPUs, >= 16 GiB\) in "
                                   r"the \d+ types of us-east-1, offered in \d zones" % re.escape(best))
        self.assertIn("runner-up %s at %s/h" % (second, usd(second_price)), p.stderr)
        self.assertIn("price: %s/h on-demand (Pricing API" % usd(price), p.stderr)
        self.assertEqual(self.emu.snapshot(), before, "--dry-run created something")
        # --arch narrows it; a bad one is refused before anything is created.
        p = self.run_job("--cpus", "4", "--memory", "16", "--arch", "x86_64", "--dry-run")
        x86 = self.fits("x86_64")
        self.assertNotEqual(x86[0][1], best)
        self.assertIn("plan: %s (4 vCPU, 16 GiB)" % x86[0][1], p.stderr, show(p))
        self.assertIn("runner-up %s at %s/h" % (x86[1][1], usd(x86[1][0])), p.stderr)
        p = self.run_job("--cpus", "4", "--arch", "sparc")
        self.assertEqual(p.returncode, 15, show(p))
        self.assertIn("--arch 'sparc' is not an architecture: use x86_64 or arm64", p.stderr)
        self.assertEqual(self.emu.snapshot(), before)

    def test_3_without_the_pricing_api_the_bundled_table_says_so(self):
        self.stub.status = 500
        try:
            p = self.hoist("types", "--cpus", "2", "--memory", "8")
            self.assertEqual(p.returncode, 0, show(p))
        finally:
            self.stub.status = None
        # The cache from test 1 answers while it is fresh: the stand-in is asked
        # only by a cold cache. A cold one (another cache folder) falls back.
        cold = os.path.join(self.tmp, "cold-cache")
        self.stub.status = 500
        try:
            p = self.emu.hoist("types", "--cpus", "2", "--memory", "8",
                               env={"AWS_ENDPOINT_URL_PRICING": self.stub.endpoint, "XDG_CACHE_HOME": cold})
        finally:
            self.stub.status = None
        self.assertEqual(p.returncode, 0, show(p))
        self.assertIn("on-demand: Linux list price (hoist's bundled table of 2026-11-24", p.stdout)
        self.assertIn("note: the Pricing API could not be reached (InternalErrorException)", p.stdout)

    def test_4_estimate_and_actual_cost_match_a_hand_calculation(self):
        first = self.run_job()
        self.assertEqual(first.returncode, 0, show(first))
        job = re.search(r"job (\S+) in us-east-1", first.stderr).group(1)
        spec = self.emu.get_json("jobs/%s/job.json" % job)
        res = spec["resources"]
        hourly = PRICES["t3.medium"] + EBS * res["disk_gib"]
        self.assertAlmostEqual(res["usd_per_hour"], hourly, places=9)
        self.assertRegex(res["price_source"], r"^Pricing API(, cached \d+ s ago)?$")
        # After: billed seconds (at least 60) from the instance's launch to the end, x the hourly price.
        st = self.emu.status(job)
        launched = self.emu.job_instances(job)[0]["LaunchTime"]
        ran = max(0, int((stamp(st["updated_at"]) - launched).total_seconds()))
        billed = max(60, ran)
        p = self.hoist("cost", job, "--json")
        self.assertEqual(p.returncode, 0, show(p))
        row = json.loads(p.stdout)[0]
        self.assertEqual(row["seconds"], ran)
        self.assertEqual(row["billed_seconds"], billed)
        self.assertAlmostEqual(row["usd"], hourly * billed / 3600, places=9)
        self.assertIn("cost: about %s" % usd(hourly * billed / 3600), first.stderr)
        # Before: the next run's expectation is the median of this one (its first phase to its end).
        phases = sorted(v for v in st["phases"].values())
        took = int((stamp(st["updated_at"]) - stamp(phases[0])).total_seconds())
        p = self.run_job("--dry-run")
        self.assertEqual(p.returncode, 0, show(p))
        expected = hourly * max(60, took) / 3600
        worst = hourly * 4 * 3600 / 3600
        self.assertIn("cost: expected %s (%s, the median of 1 previous run of this project); at most %s (4h, "
                      "--max-runtime)" % (usd(expected), self.duration(took), usd(worst)), p.stderr)
        # ls shows the cost too; --by project sums it.
        p = self.hoist("ls", "--json")
        self.assertAlmostEqual({r["job_id"]: r for r in json.loads(p.stdout)}[job]["usd"], row["usd"], places=9)
        p = self.hoist("cost", "--by", "project", "--json")
        self.assertEqual(p.returncode, 0, show(p))
        self.assertIn("proj", {r["project"] for r in json.loads(p.stdout)})

    @staticmethod
    def duration(s):
        """As hoist's format_duration prints it."""
        h, m, sec = s // 3600, s % 3600 // 60, s % 60
        return "".join(["%dh" % h if h else "", "%dm" % m if m else "", "%ds" % sec if sec or s == 0 else ""])

    def test_5_budget_shortens_the_deadline_and_the_instance_ends_by_it(self):
        # t3.medium at $3.60/h (the stand-in's) and a 30 GiB disk: $0.20 buys
        # floor(0.20 / (3.60 + 30 x EBS) x 3600) s, less 120 s for boot and shutdown.
        rate = PRICES["t3.medium"] + 30 * EBS
        deadline = int(0.20 / rate * 3600) - 120
        p = self.run_job("--budget", "0.20", "--dry-run")
        self.assertEqual(p.returncode, 0, show(p))
        self.assertIn("budget: $0.20 at %s/h buys %s: the instance ends itself within %s" % (
            usd(rate), self.duration(deadline + 120), self.duration(deadline)), p.stderr)
        p = self.run_job("--budget", "0.20", "--", "--sleep", "600", out="budget-out")
        self.assertEqual(p.returncode, 22, show(p))  # timed out
        job = re.search(r"job (\S+) in us-east-1", p.stderr).group(1)
        spec = self.emu.get_json("jobs/%s/job.json" % job)
        self.assertEqual(spec["max_runtime_seconds"], deadline)
        self.assertEqual(spec["budget_usd"], 0.20)
        st = self.emu.status(job)
        self.assertEqual(st["phase"], "timed_out", st)
        self.assertEqual(self.emu.wait_instances_terminated(job), ["terminated"])
        # It ended by the deadline: its first phase to its end within it (and a few seconds' slack).
        first = min(stamp(v) for v in st["phases"].values())
        self.assertLessEqual((stamp(st["updated_at"]) - first).total_seconds(), deadline + 30)
        cost = json.loads(self.hoist("cost", job, "--json").stdout)[0]
        self.assertLessEqual(cost["usd"], 0.20)
        # A budget below EC2's minimum and the margin: refused, nothing created.
        before = self.emu.snapshot()
        p = self.run_job("--budget", "0.01")
        self.assertEqual(p.returncode, 15, show(p))
        self.assertIn("--budget $0.0100 buys", p.stderr)
        self.assertEqual(self.emu.snapshot(), before)

    def test_6_spot_cost_from_the_price_history(self):
        p = self.run_job("--spot")
        self.assertEqual(p.returncode, 0, show(p))
        job = re.search(r"job (\S+) in us-east-1", p.stderr).group(1)
        self.assertRegex(p.stderr, r"price: \$0\.000010/h spot in us-east-1\w \(DescribeSpotPriceHistory, now\)")
        row = json.loads(self.hoist("cost", job, "--json").stdout)[0]
        res = self.emu.get_json("jobs/%s/job.json" % job)["resources"]
        # moto's history: $0.00001/h in every zone since 2006.
        self.assertAlmostEqual(row["usd"], (0.00001 + EBS * res["disk_gib"]) * row["billed_seconds"] / 3600,
                               places=9)
        self.assertIn("spot price history in us-east-1", row["priced_by"])

    def ec2_faults(self, *rules):
        """EC2 through tests/e2e/fault_proxy.py answering these --ec2-error rules."""
        proxy = subprocess.Popen([sys.executable, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                               "fault_proxy.py"),
                                  "--upstream", self.emu.endpoint, "--throttle", "0", "--drop", "0"]
                                 + [a for r in rules for a in ("--ec2-error", r)], stdout=subprocess.PIPE, text=True)
        self.addCleanup(proxy.wait)
        self.addCleanup(proxy.kill)
        return {"AWS_ENDPOINT_URL_EC2": "http://127.0.0.1:%s" % proxy.stdout.readline().split()[1],
                "AWS_ENDPOINT_URL_PRICING": self.stub.endpoint, "HOIST_RETRY_BASE_MS": "10"}

    def launched(self):
        return {i["InstanceId"] for r in self.emu.ec2.describe_instances()["Reservations"] for i in r["Instances"]}

    def test_7_each_quota_error_reads_clearly(self):
        cases = [
            ((), "RunInstances=VcpuLimitExceeded",
             'the account\'s EC2 quota "Running On-Demand Standard (A, C, D, H, I, M, R, T, Z) instances" '
             '(L-1216C47A) in %s has no room for a t3.medium, which needs 2 vCPUs (VcpuLimitExceeded; the limit is '
             '32 vCPUs, those running included): ask for more with `aws service-quotas '
             'request-service-quota-increase --region %s --service-code ec2 --quota-code L-1216C47A '
             '--desired-value 34` (or the Service Quotas console), end other instances, or pick a smaller type'
             % (REGION, REGION)),
            (("--spot",), "RunInstances=MaxSpotInstanceCountExceeded",
             'the account\'s EC2 quota "All Standard (A, C, D, H, I, M, R, T, Z) Spot Instance Requests" '
             '(L-34B43A08) in %s has no room for a t3.medium spot instance, which needs 2 vCPUs '
             '(MaxSpotInstanceCountExceeded; its current limit: `aws service-quotas get-service-quota --region %s '
             '--service-code ec2 --quota-code L-34B43A08`): ask for more with `aws service-quotas '
             'request-service-quota-increase --region %s --service-code ec2 --quota-code L-34B43A08 '
             '--desired-value N` (or the Service Quotas console), end other instances, or pick a smaller type or '
             'on-demand' % (REGION, REGION, REGION)),
        ]
        for extra, rule, message in cases:
            before = self.launched()
            env = self.ec2_faults(rule)
            p = self.emu.hoist("run", self.project, "-i", self.inp, "-o", os.path.join(self.tmp, "q"), "--yes",
                               *extra, env=env)
            self.assertEqual(p.returncode, 25, show(p))
            self.assertIn("hoist: error: " + message + "\n", p.stderr)
            self.assertEqual(self.launched(), before, "an instance was launched")
            job = re.search(r"job (\S+) in us-east-1", p.stderr).group(1)
            roles = {r["RoleName"] for r in self.emu.iam.list_roles(PathPrefix="/hoist/jobs/")["Roles"]}
            self.assertNotIn(job, roles, "the job's role outlived the failed launch")

    def test_8_no_capacity_in_a_zone_tries_the_next_and_says_so(self):
        zones = sorted(o["Location"] for o in self.emu.ec2.describe_instance_type_offerings(
            LocationType="availability-zone", Filters=[{"Name": "instance-type", "Values": ["t3.medium"]}])[
            "InstanceTypeOfferings"])
        env = self.ec2_faults("RunInstances=InsufficientInstanceCapacity@",
                              "RunInstances=InsufficientInstanceCapacity@" + zones[0])
        p = self.emu.hoist("run", self.project, "-i", self.inp, "-o", os.path.join(self.tmp, "cap"), "--yes",
                           "--detach", env=env)
        self.assertEqual(p.returncode, 0, show(p))
        self.assertIn("cannot launch a t3.medium instance in the zone EC2 chose (InsufficientInstanceCapacity); "
                      "trying %s" % zones[0], p.stderr)
        self.assertIn("cannot launch a t3.medium instance in %s (InsufficientInstanceCapacity); trying %s"
                      % (zones[0], zones[1]), p.stderr)
        job = p.stdout.strip()
        inst = self.emu.job_instances(job)
        self.assertEqual([i["Placement"]["AvailabilityZone"] for i in inst], [zones[1]])
        self.emu.wait_phase(job, ("succeeded", "failed"), timeout=120)

    def test_9_no_capacity_anywhere_for_a_picked_type_launches_the_next_fitting_one(self):
        best, second = [n for _, n in self.fits("arm64")][:2]
        env = self.ec2_faults("RunInstances=InsufficientInstanceCapacity;InstanceType=" + best)
        p = self.emu.hoist("run", self.project, "-i", self.inp, "-o", os.path.join(self.tmp, "next"), "--yes",
                           "--detach", "--cpus", "4", "--memory", "16", env=env)
        self.assertEqual(p.returncode, 0, show(p))
        self.assertIn("plan: %s (4 vCPU, 16 GiB)" % best, p.stderr)
        self.assertIn("no zone has room for a %s (InsufficientInstanceCapacity): launching the next fitting type, %s, "
                      "at %s/h" % (best, second, usd(PRICES[second])), p.stderr)
        job = p.stdout.strip()
        self.assertEqual([i["InstanceType"] for i in self.emu.job_instances(job)], [second])
        res = self.emu.get_json("jobs/%s/job.json" % job)["resources"]
        self.assertEqual(res["instance_type"], second)
        self.assertAlmostEqual(res["usd_per_hour"], PRICES[second] + EBS * res["disk_gib"], places=9)
        self.emu.wait_phase(job, ("succeeded", "failed"), timeout=120)
        # A type named with --instance-type is not swapped for another.
        env = self.ec2_faults("RunInstances=InsufficientInstanceCapacity;InstanceType=" + best)
        before = self.launched()
        p = self.emu.hoist("run", self.project, "-i", self.inp, "-o", os.path.join(self.tmp, "named"), "--yes",
                           "--instance-type", best, env=env)
        self.assertEqual(p.returncode, 20, show(p))
        self.assertIn("hoist: error: no zone of us-east-1 has room for a %s instance now (InsufficientInstanceCapacity): "
                      "try again later, or another --instance-type or --region, or --spot\n" % best, p.stderr)
        self.assertEqual(self.launched(), before)

    def test_a_spot_fallback_launches_on_demand_when_spot_has_no_room(self):
        env = self.ec2_faults("RunInstances=InsufficientInstanceCapacity;InstanceMarketOptions.MarketType=spot")
        before = self.launched()
        p = self.emu.hoist("run", self.project, "-i", self.inp, "-o", os.path.join(self.tmp, "f"), "--yes",
                           "--spot", env=env)
        self.assertEqual(p.returncode, 20, show(p))  # without --spot-fallback: no instance
        self.assertIn("hoist: error: no zone of us-east-1 has room for a t3.medium spot instance now "
                      "(InsufficientInstanceCapacity): try again later, or another --instance-type or --region, or "
                      "add --spot-fallback to launch it on demand then\n", p.stderr)
        self.assertEqual(self.launched(), before)
        p = self.emu.hoist("run", self.project, "-i", self.inp, "-o", os.path.join(self.tmp, "f"), "--yes",
                           "--spot", "--spot-fallback", env=env)
        self.assertEqual(p.returncode, 0, show(p))
        self.assertIn("hoist: no spot room for a t3.medium in any zone (InsufficientInstanceCapacity): launching it "
                      "on demand at $3.60/h (--spot-fallback)\n", p.stderr)
        (new,) = self.launched() - before
        inst = self.emu.ec2.describe_instances(InstanceIds=[new])["Reservations"][0]["Instances"][0]
        self.assertNotIn("InstanceLifecycle", inst)  # on demand
        job = re.search(r"job (\S+) in us-east-1", p.stderr).group(1)
        spec = self.emu.get_json("jobs/%s/job.json" % job)
        self.assertFalse(spec["resources"]["spot"])
        self.assertAlmostEqual(spec["resources"]["instance_usd_per_hour"], 3.6)
        self.assertRegex(p.stderr, r"cost: about \$[\d.]+ \(t3\.medium on-demand for ")


if __name__ == "__main__":
    unittest.main()
