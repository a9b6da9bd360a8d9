#!/bin/bash
# The agent's state directory full: starting a job fails with a clear
# error, nothing half-written is left, the job files already there still
# read back, the agent keeps serving, and once there is room again a job
# starts, persists and runs.
source "$(dirname "$0")/lib.sh"
require_lab
S=(volumeName="$GDR_LAB_PRIMARY" remoteHost="$GDR_LAB_HOST" remoteVolumeName="$GDR_LAB_SECONDARY")

start_agent
stop_agent_process
# A small filesystem of its own for the state dir, filled to the last byte.
mkdir -p "$AGENT_DIR/state"
mount -t tmpfs -o size=512k tmpfs "$AGENT_DIR/state"
trap 'stop_agent_process; umount "$AGENT_DIR/state" 2>/dev/null; stop_agent' EXIT
launch_agent
first=$(client GlusterVolume geoRepSync "${S[@]}" timeout=300 | json_get 'd["jobId"]')
client Host abortJob jobId="$first" >/dev/null
[ "$(wait_job "$first" 60)" = ABORTED ] || fail "the first sync did not end ABORTED"
dd if=/dev/zero of="$AGENT_DIR/state/filler" bs=4k 2>/dev/null || true
[ "$(df --output=avail -B1 "$AGENT_DIR/state" | tail -1)" -lt 4096 ] || fail "the state dir is not full"

note "a job cannot start without room to persist it"
out=$(client GlusterVolume geoRepSync "${S[@]}" timeout=300 2>&1) && fail "a job started with a full state dir: $out"
[[ "$out" == "100: "*"No space left on device"* ]] || fail "unclear error for a full state dir: $out"
leftovers=$(find "$AGENT_DIR/state/jobs" -name '.*' -o -name '*.tmp' | wc -l)
[ "$leftovers" = 0 ] || fail "half-written files in the state dir: $(ls -la "$AGENT_DIR/state/jobs")"
for f in "$AGENT_DIR"/state/jobs/*.json; do
  python3 -c 'import json, sys; json.load(open(sys.argv[1]))' "$f" || fail "$f does not read back"
done
[ "$(job_field "$first" "['state']")" = ABORTED ] || fail "the earlier job is no longer listed"
client Host ping >/dev/null || fail "the agent stopped serving"
[ "$(client Host getJobs | json_get 'len([j for j in d["jobs"].values() if j["state"] not in ("DONE", "FAILED", "ABORTED")])')" = 0 ] ||
  fail "a job is listed running though it was never persisted: $(client Host getJobs)"

note "with room again, a job starts and is persisted"
rm "$AGENT_DIR/state/filler"
job=$(client GlusterVolume geoRepSync "${S[@]}" timeout=300 | json_get 'd["jobId"]') || fail "no job with room again"
[ -f "$AGENT_DIR/state/jobs/$job.json" ] || fail "the new job was not persisted"
client Host abortJob jobId="$job" >/dev/null
[ "$(wait_job "$job" 60)" = ABORTED ] || fail "the new sync did not end ABORTED"
note "ok"
