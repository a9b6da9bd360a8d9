#!/bin/bash
# Geo-replication sync figures on the lab (printed, not asserted):
#  1. latency from gluster marking the checkpoint complete (the worker's
#     "Checkpoint completed" log line, microsecond stamps) to the sync job
#     seeing it and to the job reported DONE, median of RUNS cycles; with
#     gluster's events (default poll 10 s) and with polling only (1 s);
#  2. wall time of one full sync on an idle volume (guests paused): the
#     agent's GlusterVolume.geoRepSync next to gluster's schedule_georep.py.
# Needs the lab (scripts/bench georep brings it up).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${GDR_BIN_DIR:-$ROOT/build/bin}
RUNS=${RUNS:-5}            # latency cycles per mode
IDLE_RUNS=${IDLE_RUNS:-3}  # idle-volume syncs per method
eval "$("$ROOT/scripts/lab" env)"
GSYNCD_LOG=/var/log/glusterfs/geo-replication/${GDR_LAB_PRIMARY}_${GDR_LAB_HOST}_${GDR_LAB_SECONDARY}/gsyncd.log
SCHEDULE_GEOREP=/usr/lib/x86_64-linux-gnu/glusterfs/scripts/schedule_georep.py
dir=$(mktemp -d /tmp/gdr-georep-bench-XXXXXX)
agent=""
stop_agent() { if [ -n "$agent" ]; then kill "$agent" 2>/dev/null || true; wait "$agent" 2>/dev/null || true; agent=""; fi; }
resume_vms() { local vm; for vm in ${GDR_LAB_VMS//,/ }; do virsh -q resume "$vm" >/dev/null 2>&1 || true; done; }
trap 'stop_agent; resume_vms; rm -rf "$dir"' EXIT
start_agent() { # start_agent [--events-listen URL]
  "$BIN/gdr-agent" --config /dev/null --listen "unix:$dir/agent.sock" --state-dir "$dir/state" \
    --log-file "$dir/agent.log" "$@" &
  agent=$!
  for _ in $(seq 100); do client Host ping >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "agent did not start" >&2
  exit 1
}
client() { "$BIN/gdr-client" -s "$dir/agent.sock" "$@"; }
source "$ROOT/bench/lib.sh"
S=(volumeName="$GDR_LAB_PRIMARY" remoteHost="$GDR_LAB_HOST" remoteVolumeName="$GDR_LAB_SECONDARY")

# One sync; prints "gluster_mark_s detected_s done_s wall_s eventsReceived"
# (epoch seconds; gluster's mark from the worker's log line).
one_sync() {
  local t0 job j
  t0=$(date +%s.%N)
  job=$(client GlusterVolume geoRepSync "${S[@]}" timeout=300 | python3 -c 'import json,sys; print(json.load(sys.stdin)["jobId"])')
  j=$(await_job "$job" 0.1) || return 1
  local done_at
  done_at=$(date +%s.%N)
  # The script comes on stdin; the job's JSON as an argument.
  python3 - "$GSYNCD_LOG" "$t0" "$done_at" "$j" <<'PY'
import datetime, json, re, sys
log, t0, done = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
job = next(iter(json.loads(sys.argv[4])["jobs"].values()))
d = job["details"] if "details" in job else job
cp = d["checkpointTime"]
human = datetime.datetime.fromtimestamp(cp, datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
mark = None
for line in open(log, errors="replace"):
    if "Checkpoint completed" in line and "checkpoint_time=" + human in line:
        stamp = re.match(r"\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+)\]", line).group(1)
        mark = datetime.datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=datetime.timezone.utc).timestamp()
if mark is None:
    sys.exit("no 'Checkpoint completed' line for checkpoint " + human)
print(mark, d["checkpointCompletedAt"] / 1000.0, done, done - t0, d.get("eventsReceived", 0))
PY
}


latency_series() { # latency_series LABEL [agent flags]: RUNS cycles
  local label=$1 i line detect=() done_=() walls=() events=0
  shift
  start_agent "$@"
  for ((i = 1; i <= RUNS; i++)); do
    line=$(one_sync)
    read -r mark detected finished wall ev <<<"$line"
    detect+=("$(python3 -c "print($detected - $mark)")")
    done_+=("$(python3 -c "print($finished - $mark)")")
    walls+=("$wall")
    events=$((events + ev))
  done
  stop_agent
  printf "%-22s %14s %14s %10s %8s\n" "$label" "$(median "${detect[@]}")" "$(median "${done_[@]}")" \
    "$(median "${walls[@]}")" "$events"
}

echo "geo-rep sync: gluster's checkpoint mark -> job (seconds, median of $RUNS; guests writing)"
printf "%-22s %14s %14s %10s %8s\n" mode "-> detected" "-> DONE" "cycle" events
latency_series "events (poll 10 s)" --events-listen "$GDR_LAB_EVENTS_LISTEN"
latency_series "poll 1 s, no events"
echo

echo "one full sync on an idle volume (guests paused; seconds, median of $IDLE_RUNS)"
for vm in ${GDR_LAB_VMS//,/ }; do virsh -q suspend "$vm" >/dev/null; done
sleep 2
start_agent --events-listen "$GDR_LAB_EVENTS_LISTEN"
agent_walls=()
for ((i = 1; i <= IDLE_RUNS; i++)); do
  read -r _ _ _ wall _ <<<"$(one_sync)"
  agent_walls+=("$(printf "%.2f" "$wall")")
done
stop_agent
ref_walls=()
for ((i = 1; i <= IDLE_RUNS; i++)); do
  t0=$(date +%s.%N)
  /usr/bin/python3 "$SCHEDULE_GEOREP" --no-color "$GDR_LAB_PRIMARY" "$GDR_LAB_HOST" "$GDR_LAB_SECONDARY" >"$dir/schedule.log" 2>&1 ||
    { cat "$dir/schedule.log" >&2; exit 1; }
  ref_walls+=("$(python3 -c "print('%.2f' % ($(date +%s.%N) - $t0))")")
done
resume_vms
printf "%-40s %8s   (runs: %s)\n" "gdr-agent GlusterVolume.geoRepSync" "$(median "${agent_walls[@]}")" "${agent_walls[*]}"
printf "%-40s %8s   (runs: %s)\n" "schedule_georep.py (interval 10 s)" "$(median "${ref_walls[@]}")" "${ref_walls[*]}"
