#!/bin/bash
# hoist user data (DESIGN B3): fetch the agent by SHA-256, check it, run it.
export HOIST_BUCKET=@BUCKET@ HOIST_JOB_ID=@JOB_ID@ HOIST_REGION=@REGION@ \
  HOIST_ACCOUNT=@ACCOUNT@ HOIST_S3_ENDPOINT=@S3_ENDPOINT@ \
  HOIST_AGENT_SHA256=@AGENT_SHA256@ \
  HOIST_FALLBACK_MAX_RUNTIME=${HOIST_FALLBACK_MAX_RUNTIME:-@MAX_RUNTIME@}
d=${HOIST_HOST_ROOT%/}/opt/hoist/$HOIST_JOB_ID
export HOIST_AGENT=$d/agent.pyz
mkdir -p "$d"
off() { bash -c "${HOIST_SHUTDOWN_CMD:-shutdown -h now}"; }
# fallback power-off at the job's limit
(trap 'kill $!; exit' TERM; sleep "$HOIST_FALLBACK_MAX_RUNTIME" & wait $! && off) &
export HOIST_LOADER_PID=$!

if python3 -u - <<'EOF' && python3 -m zipfile -e "$HOIST_AGENT" "$d/agent"; then exec bash "$d/agent/bootstrap.sh"; fi
import hashlib, hmac, json, os, random, time
from urllib.request import Request, urlopen
E = os.environ
B, J, SHA = E["HOIST_BUCKET"], E["HOIST_JOB_ID"], E["HOIST_AGENT_SHA256"]
sha = lambda b: hashlib.sha256(b).hexdigest()
utc = lambda f: time.strftime(f, time.gmtime())
http = lambda m, u, h, b=None: urlopen(Request(u, b, h, method=m), timeout=10).read()

def imds(path):  # IMDSv2, or ""
  md = E.get("AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://169.254.169.254")
  try:
    t = http("PUT", md + "/latest/api/token", {"X-aws-ec2-metadata-token-ttl-seconds": "60"})
    return http("GET", md + path, {"X-aws-ec2-metadata-token": t}).decode()
  except OSError:
    return ""

def s3(m, key, b=b""):  # SigV4, path-style
  if "AWS_ACCESS_KEY_ID" in E:  # else the role's
    c = E["AWS_ACCESS_KEY_ID"], E["AWS_SECRET_ACCESS_KEY"], E.get("AWS_SESSION_TOKEN")
  else:
    p = "/latest/meta-data/iam/security-credentials/"
    c = json.loads(imds(p + imds(p).strip()))
    c = c["AccessKeyId"], c["SecretAccessKey"], c["Token"]
  ep = E.get("AWS_ENDPOINT_URL") or E["HOIST_S3_ENDPOINT"]
  now, path = utc("%Y%m%dT%H%M%SZ"), "/%s/%s" % (B, key)
  h = {"host": ep.split("/")[2], "x-amz-date": now, "x-amz-content-sha256": sha(b),
       "x-amz-expected-bucket-owner": E["HOIST_ACCOUNT"], "x-amz-security-token": c[2]}
  h = {k: v for k, v in sorted(h.items()) if v}
  req = [m, path, ""] + [k + ":" + v for k, v in h.items()] + ["", ";".join(h), sha(b)]
  scope = "%s/%s/s3/aws4_request" % (now[:8], E["HOIST_REGION"])
  k = ("AWS4" + c[1]).encode()
  for p in scope.split("/"):
    k = hmac.new(k, p.encode(), "sha256").digest()
  sts = "AWS4-HMAC-SHA256\n%s\n%s\n%s" % (now, scope, sha("\n".join(req).encode()))
  h["authorization"] = "AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s" % (
    c[0], scope, ";".join(h), hmac.new(k, sts.encode(), "sha256").hexdigest())
  h["content-type"] = "application/json"
  return http(m, ep + path, h, b or None)

def retried(fn):  # ~2 minutes: a new role may not work at once
  for n in range(1, 14):
    try:
      return fn()
    except Exception as e:
      if getattr(e, "code", 0) == 404 or n == 13:
        raise
      print("hoist loader: retry", n, e)
      time.sleep(random.uniform(0.5, 1) * min(20, 2 ** n / 4))

src = "s3://%s/blobs/sha256/%s" % (B, SHA)
try:
  data = retried(lambda: s3("GET", "blobs/sha256/" + SHA))
  err = sha(data) != SHA and "the agent fetched from %s does not match its SHA-256 " \
    "(%s): refused to run it" % (src, sha(data))
except Exception as e:
  err = "the agent could not be fetched from %s: %s" % (src, e)
if err:
  print("hoist loader: " + err)
  ts = utc("%Y-%m-%dT%H:%M:%SZ")
  st = dict(job_id=J, phase="failed", error=err, exit_code=None, updated_at=ts, phases={"failed": ts},
            instance_id=E.get("HOIST_INSTANCE_ID") or imds("/latest/meta-data/instance-id") or None)
  retried(lambda: s3("PUT", "jobs/%s/status.json" % J, json.dumps(st).encode()))
  exit(1)
open(E["HOIST_AGENT"], "wb").write(data)
EOF
kill $!
off
