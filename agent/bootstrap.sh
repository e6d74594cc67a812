#!/bin/bash
# hoist instance bootstrap (DESIGN B3, docs/job-spec.md).
#
# It travels inside the agent bundle (agent/build_bundle.py: a zipapp stored
# in the bucket at blobs/sha256/<its sha256>). The user data is only
# agent/loader.sh, with the job's coordinates filled in: it fetches the
# bundle by that hash, refuses it when the bytes do not match, and runs this
# file from it with HOIST_BUCKET, HOIST_JOB_ID, HOIST_REGION, HOIST_ACCOUNT,
# HOIST_AGENT (the bundle's path), HOIST_FALLBACK_MAX_RUNTIME and
# HOIST_LOADER_PID (its fallback power-off, replaced by the watchdog below)
# exported. No secrets are in the
# user data.
#
# Run directly from the source tree (HOIST_AGENT unset), it builds the bundle
# from the agent/ folder beside it first.
#
# On EC2 this runs once as root with the instance role; on a developer machine
# the host runner (tools/hostrunner.py) sets AWS_ENDPOINT_URL, AWS_* keys,
# HOIST_INSTANCE_ID, HOIST_RUNTIME=process, HOIST_HOST_ROOT, HOIST_SHUTDOWN_CMD
# and optionally AWS_EC2_METADATA_SERVICE_ENDPOINT.
#
# Whatever happens, the instance writes a terminal status.json, uploads its
# logs and partial outputs, and powers off: the EXIT trap guarantees it, and a
# watchdog enforces max_runtime_seconds even if everything else hangs.
set -euEo pipefail

: "${HOIST_BUCKET:?}" "${HOIST_JOB_ID:?}"
HOIST_REGION="${HOIST_REGION:-${AWS_DEFAULT_REGION:-us-east-1}}"
HOIST_HOST_ROOT="${HOIST_HOST_ROOT:-/}"
HOIST_T0="${HOIST_T0:-$(date +%s)}"
HOIST_WORK="${HOIST_HOST_ROOT%/}/opt/hoist/${HOIST_JOB_ID}"
HOIST_STATE="$HOIST_WORK/state"
# The agent bundle: the one the loader fetched and checked, or (this file run
# from the source tree) one built in step 2 from the package beside it.
HOIST_AGENT_SOURCE=""
if [[ -z ${HOIST_AGENT:-} ]]; then
  HOIST_AGENT_SOURCE="$(dirname "${BASH_SOURCE[0]}")"
  HOIST_AGENT="$HOIST_WORK/agent.pyz"
fi
HOIST_BOOTSTRAP_LOG="$HOIST_WORK/logs/bootstrap.log"
# Until job.json is read: the job's limit (plus a grace) that the loader
# has from the user data and exports; an hour when run from the source tree.
HOIST_FALLBACK_MAX_RUNTIME="${HOIST_FALLBACK_MAX_RUNTIME:-3600}"
# Time the agent gets, after the limit, to stop the script and upload.
HOIST_WATCHDOG_GRACE="${HOIST_WATCHDOG_GRACE:-120}"
export HOIST_BUCKET HOIST_JOB_ID HOIST_REGION HOIST_HOST_ROOT HOIST_T0 HOIST_WORK \
  HOIST_BOOTSTRAP_LOG HOIST_AGENT
export AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-$HOIST_REGION}"
export PYTHONDONTWRITEBYTECODE=1

mkdir -p "$HOIST_STATE" "$HOIST_WORK/logs"
# tee ends once it can write nowhere (a full disk, and no console): cat then
# drains the pipe, so that no echo below dies of SIGPIPE.
exec > >(tee -a "$HOIST_BOOTSTRAP_LOG"; cat >/dev/null) 2>&1
echo "hoist bootstrap: job $HOIST_JOB_ID bucket $HOIST_BUCKET region $HOIST_REGION at $(date -u +%FT%TZ)"

WATCHDOG_PID=""
LAST_ERROR=""
POWERED_OFF=0

power_off() {
  if [[ $POWERED_OFF == 1 ]]; then return 0; fi
  POWERED_OFF=1
  echo "hoist bootstrap: powering off"
  if [[ -n ${HOIST_SHUTDOWN_CMD:-} ]]; then
    bash -c "$HOIST_SHUTDOWN_CMD" || true
  else
    shutdown -h now || poweroff || true
  fi
}

agent() {
  python3 "$HOIST_AGENT" "$@"
}

# watchdog SECONDS: after SECONDS, ask the agent to stop (timed_out); if it has
# not finished after the grace period, kill it, finalize and power off.
# Nothing in it needs the disk (a script may have filled it): no errexit, so
# a failed write or echo does not end it, and once it has fired it ignores
# stop_watchdog's TERM and goes on to the power-off.
start_watchdog() {
  local secs=$1
  (
    set +eE
    trap - EXIT ERR
    sleep "$secs" &
    spid=$!
    trap 'kill "$spid" 2>/dev/null; exit 0' TERM
    wait "$spid"
    trap '' TERM
    echo "hoist watchdog: max runtime reached after ${secs}s"
    # for the agent's SIGTERM handler (timed_out is also what it assumes)
    echo timed_out >"$HOIST_STATE/abort"
    apid="$(cat "$HOIST_STATE/agent.pid" 2>/dev/null)"
    if [[ -n $apid ]]; then kill -TERM "$apid" 2>/dev/null; fi
    for _ in $(seq 1 "$HOIST_WATCHDOG_GRACE"); do
      if [[ -n $apid ]] && ! kill -0 "$apid" 2>/dev/null; then break; fi
      sleep 1
    done
    if [[ -n $apid ]]; then kill -KILL "$apid" 2>/dev/null; fi
    spgid="$(cat "$HOIST_STATE/script.pgid" 2>/dev/null)"
    if [[ -n $spgid ]]; then kill -KILL -- "-$spgid" 2>/dev/null; fi
    timeout 300 python3 "$HOIST_AGENT" finalize timed_out "max runtime exceeded"
    power_off
    exit 124
  ) &
  WATCHDOG_PID=$!
}

# Ends a watchdog that has not fired; waits for one that has (it finalizes
# and powers off), and then returns 124.
stop_watchdog() {
  local rc=0
  if [[ -n $WATCHDOG_PID ]]; then
    kill "$WATCHDOG_PID" 2>/dev/null || true
    wait "$WATCHDOG_PID" 2>/dev/null || rc=$?
    WATCHDOG_PID=""
  fi
  if ((rc == 124)); then return 124; fi
}

on_err() {
  LAST_ERROR="line $1: '$2' exited with status $3"
}

on_exit() {
  local rc=$?
  trap - EXIT ERR
  set +e
  stop_watchdog
  if [[ -f $HOIST_AGENT ]]; then
    local phase=failed msg="bootstrap failed (status $rc)${LAST_ERROR:+: $LAST_ERROR}"
    # The watchdog fired: the job timed out, whatever status a kill left
    # behind (the watchdog's own finalize, waited for above, wrote it, unless
    # that failed too).
    if [[ $(cat "$HOIST_STATE/abort" 2>/dev/null) == timed_out ]]; then
      phase=timed_out msg="max runtime exceeded"
    fi
    timeout 600 python3 "$HOIST_AGENT" finalize "$phase" "$msg"
  fi
  echo "hoist bootstrap: done (status $rc) at $(date -u +%FT%TZ)"
  power_off
}

trap 'on_err "$LINENO" "$BASH_COMMAND" "$?"' ERR
trap on_exit EXIT
trap 'exit 143' TERM INT

# 1. the fallback watchdog, before anything else can hang; it replaces the
# loader's simpler one
start_watchdog "$HOIST_FALLBACK_MAX_RUNTIME"
if [[ -n ${HOIST_LOADER_PID:-} ]]; then
  kill "$HOIST_LOADER_PID" 2>/dev/null || true
fi

# 2. the agent, when this file runs from the source tree
if [[ -n $HOIST_AGENT_SOURCE ]]; then
  python3 "$HOIST_AGENT_SOURCE/build_bundle.py" "$HOIST_AGENT"
fi

# 3. phase booting, job.json, and the real watchdog: what is left of the
# job's max runtime, counted from its first attempt's start (HOIST_T0 for
# the first; a successor has only what its predecessors left)
remaining="$(agent init)"
if ((remaining < 1)); then remaining=1; fi
stop_watchdog # fired meanwhile: it has ended the job, and this ends too
start_watchdog "$remaining"
echo "hoist bootstrap: ${remaining}s of the job's max runtime left"

# 4. staging, building, running, uploading, terminal status
agent run

# 5. --keep-instance: up until the deadline, when the watchdog powers off
# (hoist cancel and gc end it before)
if agent keep; then
  echo "hoist bootstrap: the job is over; the instance stays up until its deadline (--keep-instance)"
  wait "$WATCHDOG_PID" || true
fi
