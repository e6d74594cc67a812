"""The next attempt of a spot job (--spot-retries, --spot-fallback): the
instance that gets the interruption notice launches its successor itself,
so the job goes on when the laptop that started it is closed or gone.

The successor is the same RunInstances request the laptop made (job.json's
"launch": its parameters, with the same user data: the loader of this job),
with a token of its own per attempt and zone. The job role may make only
that request: one instance type, the job's own role and tags (the job
role's LaunchSuccessor statements, src/job/account.cpp).

Spot first, while the retries last: each zone of the plan (the one just
interrupted last), then wherever EC2 likes. With --spot-fallback, on demand
when spot has no room anywhere or the retries are used up.
"""
import hashlib
import urllib.parse
import xml.etree.ElementTree as ET

from hoist_agent.aws import CREDS, AwsError, endpoint_for, http_call, retrying, sign_headers
from hoist_agent.util import log

# Why a zone (or spot itself) cannot take the instance now: another zone, or
# on demand, may.
NO_ROOM = {"InsufficientInstanceCapacity", "InsufficientCapacity", "Unsupported",
           "SpotMaxPriceTooLow", "MaxSpotInstanceCountExceeded", "InsufficientFreeAddressesInSubnet"}


class Ec2:
    """EC2's query API: a form POST signed with SigV4, an XML answer."""

    def __init__(self, region):
        self.region = region
        self.url = endpoint_for("ec2", region) + "/"
        u = urllib.parse.urlsplit(self.url)
        self.host = u.netloc
        self.path = u.path or "/"

    def call(self, action, params):
        form = [("Action", action), ("Version", "2016-11-15")] + [(k, str(v)) for k, v in params]
        body = urllib.parse.urlencode(form).encode()

        def once():
            h = sign_headers("POST", self.host, self.path, {},
                             {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
                             hashlib.sha256(body).hexdigest(), "ec2", self.region, CREDS.get())
            h.pop("host")
            with http_call("POST", self.url, h, body) as r:
                return ET.fromstring(r.read())
        return retrying(once, "EC2 " + action)


def plan(spec, attempt, spot_now):
    """What the next attempt (attempt + 1) is: "spot", "on-demand", or None
    (no successor: the job ends preempted)."""
    recovery = spec.get("recovery") or {}
    if not spot_now or not spec.get("launch"):
        return None
    if attempt <= int(recovery.get("spot_retries") or 0):
        return "spot"
    return "on-demand" if recovery.get("spot_fallback") else None


def zones_for(spec, market, current_zone):
    """The zones to try in turn ("" = wherever EC2 chooses)."""
    launch = spec.get("launch") or {}
    zones = list(launch.get("spot_zones" if market == "spot" else "zones") or [])
    if current_zone in zones:  # its room has just run out: last
        zones.remove(current_zone)
        zones.append(current_zone)
    return zones + [""]


def launch(ec2, spec, job_id, attempt, market, current_zone):
    """Launches attempt `attempt` (market "spot" or "on-demand"); returns
    {"instance_id", "zone", "spot"}. With --spot-fallback a spot request with
    no room anywhere falls back to on demand. Raises AwsError when nothing
    could be launched."""
    params = [tuple(p) for p in (spec.get("launch") or {}).get("params") or []]
    fallback = bool((spec.get("recovery") or {}).get("spot_fallback"))
    markets = [market] + (["on-demand"] if market == "spot" and fallback else [])
    last = None
    for m in markets:
        for i, zone in enumerate(zones_for(spec, m, current_zone)):
            p = list(params)
            token = "%s-a%d-%s%d" % (job_id, attempt, "s" if m == "spot" else "o", i)
            p.append(("ClientToken", token[-64:]))
            if zone:
                p.append(("Placement.AvailabilityZone", zone))
            if m == "spot":
                p += [("InstanceMarketOptions.MarketType", "spot"),
                      ("InstanceMarketOptions.SpotOptions.SpotInstanceType", "one-time"),
                      ("InstanceMarketOptions.SpotOptions.InstanceInterruptionBehavior", "terminate")]
            try:
                doc = ec2.call("RunInstances", p)
            except AwsError as e:
                last = e
                if e.code not in NO_ROOM:
                    raise
                log("successor: no %s room in %s (%s)" % (m, zone or "the zone EC2 chose", e.code))
                continue
            item = doc.find(".//{*}instancesSet/{*}item")
            if item is None:
                raise AwsError(500, "NoInstance", "RunInstances returned no instance")
            found = item.findtext("{*}placement/{*}availabilityZone") or zone
            return {"instance_id": item.findtext("{*}instanceId"), "zone": found, "spot": m == "spot"}
        if m == "spot" and fallback:
            log("successor: no spot room anywhere; on demand (--spot-fallback)")
    raise last or AwsError(500, "NoZone", "no zone to launch in")
