#!/bin/bash
# GlusterVolume.geoRepSync through a running agent on the lab: files
# written before the checkpoint arrive byte for byte; the job survives a
# kill -9 of the agent; a sync while the secondary volume is stopped fails
# with a clear error within its timeout.
source "$(dirname "$0")/lib.sh"
require_lab

S=(volumeName="$GDR_LAB_PRIMARY" remoteHost="$GDR_LAB_HOST" remoteVolumeName="$GDR_LAB_SECONDARY")
dir=$GDR_LAB_PRIMARY_MOUNT/georep-job-$$
mkdir -p "$dir"
trap 'rm -rf "$dir"; stop_agent' EXIT
for s in 17 65536 5000001; do head -c "$s" /dev/urandom >"$dir/f-$s"; done
(cd "$dir" && sha256sum f-*) >"$dir.sums"

start_agent
note "sync woken by gluster's checkpoint event"
# A 30 s poll: the completing reading comes from the event, not the poll.
job=$(client GlusterVolume geoRepSync "${S[@]}" timeout=300 pollInterval=30 | json_get 'd["jobId"]')
final=$(wait_job "$job" 320)
[ "$final" = DONE ] || fail "sync ended $final: $(client Host getJobs)"
events=$(job_field "$job" ".get('eventsReceived', 0)")
[ "$events" -ge 1 ] || fail "no GEOREP_CHECKPOINT_COMPLETED event reached the job: $(client Host getJobs)"
note "done, woken by $events event(s)"

note "sync, with the agent killed -9 while it waits"
job=$(client GlusterVolume geoRepSync "${S[@]}" timeout=400 stallTimeout=60 | json_get 'd["jobId"]')
for ((i = 0; i < 60; i++)); do
  [ "$(job_field "$job" "['state']")" = SYNCING ] && break
  sleep 0.5
done
[ "$(job_field "$job" "['state']")" = SYNCING ] || fail "job never reached SYNCING"
crash_and_relaunch_agent
final=$(wait_job "$job" 420)
[ "$final" = DONE ] || fail "recovered sync ended $final: $(client Host getJobs)"
[ "$(job_field "$job" "['workersCompleted']")" -ge 1 ] || fail "no worker completed"
status=$(client GlusterVolume geoRepSessionStatus "${S[@]}" | json_get 'd["sessionStatus"][0]["status"]')
[ "$status" = Stopped ] || fail "session not stopped after the sync: $status"

mnt=$(mktemp -d)
mount -t glusterfs -o ro "$GDR_LAB_HOST:/$GDR_LAB_SECONDARY" "$mnt"
(cd "$mnt/georep-job-$$" && sha256sum f-*) >"$dir.copies" || { umount "$mnt"; fail "files missing on the secondary"; }
umount "$mnt"
rmdir "$mnt"
diff "$dir.sums" "$dir.copies" || fail "the secondary's copies differ"
rm -f "$dir.sums" "$dir.copies"
note "copies identical"

note "sync with the secondary volume stopped"
gluster --mode=script volume stop "$GDR_LAB_SECONDARY" force >/dev/null
restore() { gluster --mode=script volume start "$GDR_LAB_SECONDARY" force >/dev/null; }
start=$SECONDS
job=$(client GlusterVolume geoRepSync "${S[@]}" timeout=30 stallTimeout=20 | json_get 'd["jobId"]') || { restore; fail "sync refused"; }
final=$(wait_job "$job" 90)
elapsed=$((SECONDS - start))
code=$(job_field "$job" "['error']['code']")
message=$(job_field "$job" "['error']['message']")
restore
[ "$final" = FAILED ] || fail "sync against a stopped secondary ended $final"
# The job sees its timeout pass at its next reading (every 10 s when
# gluster's events reach the agent), then stops the session: 12 s past the
# timeout here.
[ "$elapsed" -le 55 ] || fail "the failure took ${elapsed}s, past its 30s timeout"
case "$code" in 3101 | 3102 | 3103) ;; *) fail "unexpected error $code: $message" ;; esac
note "failed in ${elapsed}s with $code: $message"
status=$(client GlusterVolume geoRepSessionStatus "${S[@]}" | json_get 'd["sessionStatus"][0]["status"]')
[ "$status" = Stopped ] || fail "session left $status after the failed sync"
