"""Telling the job's end (--notify), from the instance: the laptop may be
closed or gone. job.json's "notify" says where: the SNS topic (its e-mail
subscribers) and the webhooks (a JSON POST whose "text" is what Slack shows).

It never holds up the power-off for long: every target together gets
BUDGET seconds, each request a few, retried with back-off inside that.
The webhooks' addresses are never logged (they often hold their secret).
"""
import hashlib
import json
import random
import time
import urllib.error
import urllib.parse
import urllib.request

from hoist_agent.aws import CREDS, AwsError, endpoint_for, http_call, sign_headers
from hoist_agent.util import log

BUDGET = 10.0  # seconds, for every target together
LOG_LINES = 20
LOG_CHARS = 2000


def log_tail(path, lines=LOG_LINES, chars=LOG_CHARS):
    """The last lines of the script's output (at most `chars` of them)."""
    try:
        with open(path, "rb") as f:
            f.seek(0, 2)
            size = f.tell()
            f.seek(max(0, size - 64 * 1024))
            text = f.read().decode("utf-8", "replace")
    except OSError:
        return ""
    tail = "\n".join(text.rstrip("\n").split("\n")[-lines:])
    return tail[-chars:]


def duration_text(seconds):
    seconds = int(max(0, seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return ("%dh%02dm" % (h, m)) if h else ("%dm%02ds" % (m, s)) if m else "%ds" % s


def cost_usd(spec, seconds):
    """About what the job's instance and disk cost, as the plan priced them
    (per second, EC2's one-minute minimum); None when it was not priced."""
    res = spec.get("resources") or {}
    rate = res.get("usd_per_hour")
    if not res.get("price_known", True) or not rate:
        return None
    return float(rate) * max(60, seconds) / 3600.0


def message(spec, status, seconds, tail):
    """(subject, text, fields) of the end of this job."""
    job_id = status.get("job_id") or spec.get("job_id")
    project = spec.get("project") or ""
    phase = status.get("phase")
    exit_code = status.get("exit_code")
    cost = cost_usd(spec, seconds)
    console = (spec.get("notify") or {}).get("console_url") or ""
    head = "hoist: job %s (%s) %s" % (job_id, project, phase)
    if exit_code is not None:
        head += " (exit %s)" % exit_code
    head += " after %s" % duration_text(seconds)
    if cost is not None:
        head += ", about $%.4f" % cost
    lines = [head]
    if status.get("error") and phase != "succeeded":
        lines.append("error: %s" % status["error"])
    if console:
        lines.append("outputs: %s" % console)
    if tail:
        lines += ["", "last lines of the log:", tail]
    fields = {"job_id": job_id, "project": project, "phase": phase, "exit_code": exit_code,
              "duration_seconds": int(seconds), "cost_usd": cost, "console_url": console, "log_tail": tail,
              "attempt": status.get("attempt")}
    subject = ("hoist: %s %s" % (job_id, phase))[:100]
    return subject, "\n".join(lines), fields


def sns_publish(region, topic_arn, subject, text, timeout):
    """SNS Publish (query protocol, SigV4), once."""
    url = endpoint_for("sns", region) + "/"
    u = urllib.parse.urlsplit(url)
    body = urllib.parse.urlencode([("Action", "Publish"), ("Version", "2010-03-31"), ("TopicArn", topic_arn),
                                   ("Subject", subject), ("Message", text)]).encode()
    h = sign_headers("POST", u.netloc, u.path or "/", {},
                     {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
                     hashlib.sha256(body).hexdigest(), "sns", region, CREDS.get())
    h.pop("host")
    with http_call("POST", url, h, body, timeout=timeout) as r:
        r.read()


def webhook_post(url, payload, timeout):
    req = urllib.request.Request(url, data=json.dumps(payload).encode(), method="POST",
                                 headers={"Content-Type": "application/json", "User-Agent": "hoist-agent"})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        r.read()


def within(deadline, what, fn):
    """fn(timeout) until it works or the deadline passes (back-off with
    jitter between tries); a 4xx answer other than 429 is not tried again."""
    attempt = 0
    while True:
        left = deadline - time.monotonic()
        if left <= 0.2:
            log("notify: %s: no time left" % what)
            return False
        try:
            fn(min(3.0, left))
            return True
        except urllib.error.HTTPError as e:
            if 400 <= e.code < 500 and e.code != 429:
                log("notify: %s refused it (HTTP %d)" % (what, e.code))
                return False
            err = "HTTP %d" % e.code
        except AwsError as e:
            if 400 <= e.status < 500 and e.code not in ("Throttling", "ThrottlingException"):
                log("notify: %s refused it (%s)" % (what, e.code))
                return False
            err = e.code
        except (OSError, ValueError) as e:
            err = type(e).__name__
        attempt += 1
        delay = min(deadline - time.monotonic() - 0.2, random.uniform(0, 0.25 * 2 ** attempt))
        log("notify: %s failed (%s); again in %.1fs" % (what, err, max(0, delay)))
        if delay > 0:
            time.sleep(delay)


def send(spec, status, region, seconds, job_log, budget=BUDGET):
    """Tells every target of job.json's "notify"; returns how many took it."""
    targets = (spec or {}).get("notify") or {}
    topic = targets.get("topic_arn")
    hooks = targets.get("webhooks") or []
    if not topic and not hooks:
        return 0
    subject, text, fields = message(spec, status, seconds, log_tail(job_log))
    deadline = time.monotonic() + budget
    sent = 0
    if topic:
        sent += within(deadline, "the SNS topic", lambda t: sns_publish(region, topic, subject, text, t))
    payload = dict(fields, text=text)
    for n, url in enumerate(hooks, 1):
        sent += within(deadline, "webhook %d" % n, lambda t, url=url: webhook_post(url, payload, t))
    log("notify: told %d of %d" % (sent, (1 if topic else 0) + len(hooks)))
    return sent
