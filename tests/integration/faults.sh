#!/bin/bash
# Faults injected into the lab while gdr works:
# - glusterd restarted during a geo-rep sync: the job rides it out (status
#   readings fail for a while) and completes;
# - the secondary unreachable (its sshd stopped): the sync fails at once,
#   naming the workers (Faulty, or Stopped with gsyncd's reason), and
#   works again once sshd is back;
# - libvirtd restarted during a merge: the job re-attaches and completes,
#   or fails clearly; either way the VM is on a valid chain and its guest
#   keeps writing.
source "$(dirname "$0")/lib.sh"
require_lab
S=(volumeName="$GDR_LAB_PRIMARY" remoteHost="$GDR_LAB_HOST" remoteVolumeName="$GDR_LAB_SECONDARY")
start_agent
trap '"$LAB" start-sshd >/dev/null 2>&1 || true; stop_agent' EXIT

note "glusterd restarted during a geo-rep sync"
marker=$GDR_LAB_PRIMARY_MOUNT/faults-$$
head -c 3000000 /dev/urandom >"$marker"
job=$(client GlusterVolume geoRepSync "${S[@]}" timeout=300 | json_get 'd["jobId"]')
[ "$(await_job_state "$job" SYNCING 60)" = SYNCING ] || fail "the sync never reached SYNCING: $(client Host getJobs)"
"$LAB" restart-glusterd
state=$(wait_job "$job" 320)
[ "$state" = DONE ] || fail "the sync across a glusterd restart ended $state: $(job_field "$job" "")"
sum() { client GlusterVolume fileChecksum volfileServers='["'"$GDR_LAB_HOST"'"]' volumeName="$1" path="faults-$$" |
  json_get 'd["sha256"]'; }
[ "$(sum "$GDR_LAB_SECONDARY")" = "$(sum "$GDR_LAB_PRIMARY")" ] || fail "the file written before the sync differs on the secondary"
rm -f "$marker"

note "the secondary unreachable: its sshd stopped"
"$LAB" stop-sshd
# Polled every 2 s (not the 10 s the agent uses when gluster's events reach
# it): the job then tells a lasting Stopped or Faulty from a worker's
# restart within seconds, not a minute.
job=$(client GlusterVolume geoRepSync "${S[@]}" timeout=120 pollInterval=2 | json_get 'd["jobId"]')
state=$(wait_job "$job" 180)
"$LAB" start-sshd
[ "$state" = FAILED ] || fail "a sync without ssh to the secondary ended $state"
code=$(job_field "$job" "['error']['code']")
message=$(job_field "$job" "['error']['message']")
# Workers that lose ssh go Faulty (3101); gluster 10's monitor here exits
# before starting them when ssh is refused, and the session reads Stopped
# again after the job started it (3103, with gsyncd's own reason). That
# reason is ssh's words when gsyncd logged them in the job's time; its
# monitor can fail while logging them (a TypeError in its errlog), and then
# it is ssh's own exit status, 255.
case "$code" in
  3101) [[ "$message" == *"$GDR_LAB_PRIMARY_BRICK"*"(Faulty)"* ]] || fail "the Faulty worker is not named: $message" ;;
  3103) [[ "$message" == *"$GDR_LAB_PRIMARY_BRICK"*"(Stopped)"*"gsyncd: "*"Connection refused"* ||
    "$message" == *"$GDR_LAB_PRIMARY_BRICK"*"(Stopped)"*"gsyncd: command exited 255 (ssh's own failure): ssh "* ]] ||
          fail "the stopped workers and gsyncd's reason are not named: $message" ;;
  *) fail "expected GeoRepWorkerFaulty (3101) or GeoRepSyncStalled (3103), got $code: $message" ;;
esac
note "$message"
job=$(client GlusterVolume geoRepSync "${S[@]}" timeout=300 | json_get 'd["jobId"]')
[ "$(wait_job "$job" 320)" = DONE ] || fail "no sync once sshd was back: $(job_field "$job" "")"

note "libvirtd restarted during a merge"
vm_name=${GDR_LAB_VMS%%,*}
vm=$(virsh domuuid "$vm_name")
base=${GDR_LAB_DISKS%%,*}
out=$(client VM snapshot vmID="$vm")
top=$(json_get 'd["disks"][0]["top"]' <<<"$out")
sleep 6  # a few MiB in the overlay: at 1 MiB/s the commit lasts a while
job=$(client VM merge vmID="$vm" drive=vda deleteTop=true bandwidth=1 | json_get 'd["jobId"]')
[ "$(await_job_state "$job" COMMIT 10)" = COMMIT ] || fail "the merge never reached COMMIT"
progress_before=$(guest_progress "$vm_name")
"$LAB" restart-libvirtd
state=$(wait_job "$job" 240)
chain=$(virsh dumpxml "$vm_name" | grep -c '<source file=' || true)
case "$state" in
  DONE) [ "$chain" = 1 ] || fail "the merge is DONE but the chain has $chain images" ;;
  FAILED)
    note "the merge failed clearly: $(job_field "$job" "['error']['message']")"
    [ "$chain" = 2 ] || fail "a failed merge left $chain images in the chain"
    job=$(client VM merge vmID="$vm" drive=vda deleteTop=true | json_get 'd["jobId"]')
    [ "$(wait_job "$job" 120)" = DONE ] || fail "the VM could not be merged back after the failure" ;;
  *) fail "the merge across a libvirtd restart ended $state" ;;
esac
[ "$(virsh domblklist "$vm_name" | awk '$1 == "vda" {print $2}')" = "$base" ] || fail "vda is not back on $base"
[ ! -e "$top" ] || fail "the overlay $top is left"
sleep 3
[ "$(guest_progress "$vm_name")" -gt "${progress_before:-0}" ] || fail "the guest stopped writing"
note "merge across the restart: $state"
note "ok"
