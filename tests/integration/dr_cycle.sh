#!/bin/bash
# gdr-sync on the lab in the flat layout (the delta layout, the default,
# is the recovery_points test's), with every guest writing: three cycles in a row
# succeed, each leaving a crash-consistent copy of every VM on the
# secondary that holds more records than the one before, and each VM's
# definition beside its disks (the same VM, naming its base), and the
# recovery points listed (the newest complete, three kept); the primary
# chains back to one image and no overlay on either side; a shard emptied
# on the secondary is found and located (--verify shards), and makes the
# newest point incomplete; a range of a base left stale on the secondary
# is found by its piece's modification time and resent; a cycle survives
# kill -9 of the agent during its merges, and kill -9 of gdr-sync itself
# (the next run adopts its overlays); with the secondary volume stopped
# the geo-rep step fails, every VM is merged back, the report names the
# step and the exit code says so; a shard the secondary holds under
# another gfid is found and repaired within the cycle. gdr-sync reaches the
# agent over mutual TLS, as the engine would.
source "$(dirname "$0")/lib.sh"
require_lab
start_agent
state=$(mktemp -d /tmp/gdr-sync-XXXXXX)
trap 'stop_agent; rm -rf "$state"' EXIT
sync() {
  "$BIN/gdr-sync" --hosts "$AGENT_URL" "${TLS_ARGS[@]}" --volume "$GDR_LAB_PRIMARY" \
    --secondary "$GDR_LAB_SECONDARY_URL" --state-dir "$state" --timeout 5m --layout flat --json "$@"
}
IFS=, read -r -a vms <<<"$GDR_LAB_VMS"
IFS=, read -r -a disks <<<"$GDR_LAB_DISKS"
overlays_left() { # overlays of the lab VMs' disks, on either side (other tests leave their own files)
  find "$GDR_LAB_PRIMARY_MOUNT/images/.gdr-snapshots" "$GDR_LAB_SECONDARY_BRICK/images/.gdr-snapshots" \
    -maxdepth 1 -type f -name 'gdr-lab-vm*' 2>/dev/null | wc -l
}

declare -A previous
declare -a cycle_started
for cycle in 1 2 3; do
  note "cycle $cycle"
  cycle_started[$cycle]=$(date +%s)
  report=$(sync) || fail "cycle $cycle failed: $report"
  [ "$(json_get 'd["status"]' <<<"$report")" = success ] || fail "cycle $cycle: $report"
  [ "$(json_get 'len(d["vms"])' <<<"$report")" = "${#vms[@]}" ] || fail "cycle $cycle did not cover every VM"
  for vm in "${vms[@]}"; do
    [ "$(virsh dumpxml "$vm" | grep -c '<source file=')" = 1 ] || fail "$vm is not back on one image"
  done
  [ "$(overlays_left)" = 0 ] || fail "overlays left after cycle $cycle: $(overlays_left)"
  mnt=$(mktemp -d)
  mount -t glusterfs -o ro "$GDR_LAB_HOST:/$GDR_LAB_SECONDARY" "$mnt"
  for disk in "${disks[@]}"; do
    copy=$mnt/${disk#"$GDR_LAB_PRIMARY_MOUNT"/}
    result=$("$LAB" check-consistency "$copy") || {
      umount "$mnt"
      fail "copy of $disk not consistent: $result; what the cycle checked: $(json_get '[s for s in d["steps"] if s["step"].startswith("verify")], [v["secondary"] for v in d["vms"]]' <<<"$report")"
    }
    records=$(json_get 'd["records"]' <<<"$result")
    [ "$records" -gt "${previous[$disk]:-0}" ] || { umount "$mnt"; fail "$disk: $records records, not more than ${previous[$disk]:-0}"; }
    previous[$disk]=$records
    note "$disk: $records records on the secondary"
  done
  # Each VM's definition travelled with its disks, naming its base.
  uuid0=$(virsh domuuid "${vms[0]}")
  definition0=$mnt/$(json_get "[v for v in d['vms'] if v['name'] == '${vms[0]}'][0]['definition']['path']" <<<"$report")
  for i in "${!vms[@]}"; do
    virsh dumpxml --inactive "${vms[$i]}" >"$state/primary.xml"
    sha=$(json_get "[v for v in d['vms'] if v['name'] == '${vms[$i]}'][0]['definition']['sha256']" <<<"$report")
    definition=$(json_get "[v for v in d['vms'] if v['name'] == '${vms[$i]}'][0]['definition']['path']" <<<"$report")
    [[ $definition == .gdr/vms/$(virsh domuuid "${vms[$i]}")-${sha:0:16}.xml ]] || fail "definition saved at $definition"
    "$ROOT/tests/integration/check_definition.py" "$mnt/$definition" "$state/primary.xml" \
      "$GDR_LAB_PRIMARY_MOUNT" "$mnt" "$sha" "${disks[$i]}" || { umount "$mnt"; fail "definition of ${vms[$i]}"; }
  done
  if [ "$cycle" = 1 ]; then  # the check has teeth: a definition naming an overlay, or another VM, is rejected
    sed "s|${disks[0]}|${disks[0]%/*}/.gdr-snapshots/gdr-lab-vm1.x.qcow2|" "$definition0" >"$state/overlay.xml"
    sed "s|<uuid>$uuid0</uuid>|<uuid>00000000-0000-4000-8000-000000000000</uuid>|" "$definition0" >"$state/other.xml"
    virsh dumpxml --inactive "${vms[0]}" >"$state/primary.xml"
    for broken in overlay other; do
      if "$ROOT/tests/integration/check_definition.py" "$state/$broken.xml" "$state/primary.xml" "$GDR_LAB_PRIMARY_MOUNT" \
        "$mnt" "$(sha256sum <"$state/$broken.xml" | cut -d' ' -f1)" "${disks[0]}"; then
        umount "$mnt"; fail "check_definition accepted a broken definition ($broken)"
      fi
    done
  fi
  umount "$mnt"
  rmdir "$mnt"
done
[ "$("$BIN/gdr-sync" history --state-dir "$state" --json | json_get 'len(d)')" = 3 ] || fail "history does not list 3 cycles"

note "recovery points: the newest complete, the older ones superseded, three kept"
points() { "$BIN/gdr-sync" points --hosts "$AGENT_URL" "${TLS_ARGS[@]}" --secondary "$GDR_LAB_SECONDARY_URL" --json; }
listing=$(points) || fail "no complete recovery point after three cycles: $listing"
[ "$(json_get 'len(d["points"])' <<<"$listing")" = 3 ] || fail "not three points kept: $listing"
[ "$(json_get 'd["points"][0]["id"]' <<<"$listing")" = "$(json_get 'd["point"]["id"]' <<<"$report")" ] ||
  fail "the newest point is not the last cycle's: $listing"
[ "$(json_get '[p["state"] for p in d["points"]]' <<<"$listing")" = "['complete', 'superseded', 'superseded']" ] ||
  fail "states: $listing"

note "a shard emptied on the secondary is found"
# What geo-replication was seen doing here: a shard created on the
# secondary but never filled, while the checkpoint reported Completed.
gfid=$(getfattr -n trusted.gfid -e hex "$GDR_LAB_PRIMARY_BRICK/${disks[0]#"$GDR_LAB_PRIMARY_MOUNT"/}" 2>/dev/null |
  sed -n 's/^trusted.gfid=0x\(........\)\(....\)\(....\)\(....\)\(............\)$/\1-\2-\3-\4-\5/p')
# A full shard nearest the middle of the image, with data where the check
# reads, that no write has touched since the cycle before the last began:
# geo-replication synced it then and will not resend it by itself. (The guest's filesystem rewrites its journal and
# metadata wherever they lie, and a merge writes them into the base, so a
# middle shard alone is no proof; nor is one untouched since the last
# cycle began: a restarted session crawls its changelogs again from its
# last recorded sync time, which can lie before that, and with
# --ignore-times it rewrote such a shard here. The first shard holds qcow2
# metadata, the last grows.)
# Whether the 64 KiB of shard I that "--verify shards" reads hold data on
# the primary: an emptied shard reads as zeros, so a window of zeros (a
# hole of the image) cannot show it. (gdr's sampling: 4 KiB-aligned, spread
# over each 4 MiB stride by a multiplicative hash of its index.)
# One process for every shard (a python3 per shard took 40 s here).
untouched_shard() { # SINCE EXCEPT,... [any]: the index, or nothing ("any": data where the check reads or not)
  python3 - "$GDR_LAB_PRIMARY_BRICK/.shard/$gfid" "$(stat -c %s "${disks[0]}")" "$@" <<'EOF'
import os, sys
prefix, size, since, skip = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
any_data = sys.argv[5:6] == ["any"]
stride = 4 << 20
count = size // stride
def sampled_data(path, i):
    at = i * 2654435761 % ((stride - 65536) // 4096 + 1) * 4096
    with open(path, "rb") as f:
        f.seek(at)
        return bool(f.read(65536).strip(b"\0"))
best = None
for i in range(1, count - 1):
    path = "%s.%d" % (prefix, i)
    if str(i) in skip.split(",") or not os.path.exists(path) or int(os.stat(path).st_mtime) >= since:
        continue
    if not any_data and not sampled_data(path, i):
        continue
    if best is None or (i - count // 2) ** 2 < (best - count // 2) ** 2:
        best = i
print("" if best is None else best)
EOF
}
# Small images (a fresh lab) may have none after three cycles: more
# cycles then, the writers moving on.
last=3
index=$(untouched_shard "${cycle_started[2]}" -)
while [ -z "$index" ] && [ "$last" -lt 8 ]; do
  last=$((last + 1))
  note "cycle $last: no shard untouched since cycle $((last - 2)) began yet ($(stat -c %s "${disks[0]}") bytes)"
  cycle_started[$last]=$(date +%s)
  report=$(sync) || fail "cycle $last failed: $report"
  index=$(untouched_shard "${cycle_started[$((last - 1))]}" -)
done
[ -n "$index" ] || fail "no shard of ${disks[0]} untouched since cycle $((last - 1)) began with data where the check reads ($(stat -c %s "${disks[0]}") bytes)"
shard=$GDR_LAB_SECONDARY_BRICK/.shard/$gfid.$index
note "shard $index of ${disks[0]} emptied: last written $(date -u -d "@$(stat -c %Y "$GDR_LAB_PRIMARY_BRICK/.shard/$gfid.$index")" +%T), cycle $((last - 1)) began $(date -u -d "@${cycle_started[$((last - 1))]}" +%T)"
[ -s "$shard" ] || fail "no shard $index of ${disks[0]} on the secondary to empty ($shard)"
cp "$shard" "$state/shard.saved"
restore_shard() { cat "$state/shard.saved" >"$shard"; }  # same file, same gfid: as geo-replication left it
trap 'restore_shard; stop_agent; rm -rf "$state"' EXIT
truncate -s 0 "$shard"
# The point's check sees it: the newest point is no longer complete.
set +e
listing=$(points)
rc=$?
set -e
[ "$rc" = 1 ] || fail "a point with an emptied shard still listed complete: $listing"
[ "$(json_get 'd["points"][0]["state"]' <<<"$listing")" = incomplete ] || fail "states: $listing"
[[ "$(json_get 'd["points"][0]["problems"][0]["why"]' <<<"$listing")" == "${disks[0]#"$GDR_LAB_PRIMARY_MOUNT"/}"*"differs from the point"* ]] ||
  fail "the problem does not name the base: $listing"
verify_started=$(date +%s)
set +e
report=$(sync --verify shards --no-repair)  # detection alone: the repair would resend it
rc=$?
set -e
left=$(stat -c %s "$shard")
restore_shard
trap 'stop_agent; rm -rf "$state"' EXIT
[ "$rc" = 1 ] || fail "expected exit code 1 (verification failed, merged back), got $rc (the shard held $left bytes on the secondary after the sync): $report"
alert=$(json_get 'd["alert"]' <<<"$report")
[[ "$alert" == *"${disks[0]#"$GDR_LAB_PRIMARY_MOUNT"/}"*" of "*" strides"* ]] || fail "the alert does not locate the emptied shard: $alert"
# Geo-replication may also have left a shard the last merge wrote short or
# stale (README, "Known limits"): that one is reported too, and rightly.
located=$(json_get '[s for s in d["steps"] if s["step"] == "verify"][0]["differedAt"]' <<<"$report")
[ "$(json_get "$((index * (4 << 20))) in [s for s in d['steps'] if s['step'] == 'verify'][0]['differedAt'].get('${disks[0]#"$GDR_LAB_PRIMARY_MOUNT"/}', [])" <<<"$report")" = True ] ||
  fail "shard $index not located: $located"
for vm in "${vms[@]}"; do
  [ "$(virsh dumpxml "$vm" | grep -c '<source file=')" = 1 ] || fail "$vm left on an overlay after the failed verification"
done
# (Its overlays on the secondary stay until the next sync carries the
# primary's deletions over.)
[ -z "$(find "$GDR_LAB_PRIMARY_MOUNT/images/.gdr-snapshots" -maxdepth 1 -type f -name 'gdr-lab-vm*')" ] ||
  fail "overlays left on the primary after the failed verification"
note "alert: $alert"

note "a stale range of a base, in a piece the secondary holds with an older time, is found and resent"
# What geo-replication was seen leaving: a base that passed the sample
# check yet lacked records on the secondary (README, "Known limits"). rsync
# sets each piece's modification time with its data, so a piece not resent
# after its last change holds an older time there. Done here by hand,
# through a client with gluster's internal pid: 4 KiB of another shard
# overwritten on the secondary, and its time set a minute back.
oldest_untouched_shard() { # EXCEPT,...: untouched since cycle 2 began, else cycle 3, else the verified cycle
  local since found=""
  for since in "${cycle_started[2]}" "${cycle_started[3]}" "$verify_started"; do
    [ -n "$found" ] || found=$(untouched_shard "$since" "$1" any)
  done
  echo "$found"
}
on_secondary_as_gluster() { # COMMAND...: runs COMMAND MOUNT, the secondary mounted with gluster's internal pid
  local mnt rc=0
  mnt=$(mktemp -d)
  glusterfs --volfile-server="$GDR_LAB_HOST" --volfile-id="$GDR_LAB_SECONDARY" --client-pid=-1 "$mnt"
  "$@" "$mnt" || rc=$?
  umount "$mnt"
  rmdir "$mnt"
  return "$rc"
}
stale=$(oldest_untouched_shard "$index")
[ -n "$stale" ] || fail "no other shard of ${disks[0]} untouched since the verified cycle began"
shard=$GDR_LAB_SECONDARY_BRICK/.shard/$gfid.$stale
primary_shard=$GDR_LAB_PRIMARY_BRICK/.shard/$gfid.$stale
cmp -s "$shard" "$primary_shard" || fail "shard $stale of ${disks[0]} differs on the secondary before the test"
make_stale() { # MOUNT
  local piece=$1/.shard/$gfid.$stale written
  written=$(stat -c %Y "$piece")
  head -c 4096 /dev/urandom | dd of="$piece" bs=4096 seek=517 conv=notrunc status=none &&
    touch -m -d "@$((written - 60))" "$piece"
}
on_secondary_as_gluster make_stale || fail "cannot make shard $stale stale"
! cmp -s "$shard" "$primary_shard" || fail "shard $stale was not changed on the secondary"
report=$(sync) || fail "the cycle did not repair the stale shard: $report"
[ "$(json_get 'd["status"]' <<<"$report")" = success ] || fail "cycle with a stale shard: $report"
differed=$(json_get '[s for s in d["steps"] if s["step"] == "verify"][0]["differed"]' <<<"$report")
[[ "$differed" == *"${disks[0]#"$GDR_LAB_PRIMARY_MOUNT"/}"*" pieces it holds with another modification time"* ]] ||
  fail "the verification does not name the stale piece: $differed"
[ "$(json_get "$((stale * (4 << 20))) in [s for s in d['steps'] if s['step'] == 'verify'][0]['differedAt'].get('${disks[0]#"$GDR_LAB_PRIMARY_MOUNT"/}', [])" <<<"$report")" = True ] ||
  fail "shard $stale not located: $differed"
cmp -s "$shard" "$primary_shard" || fail "shard $stale differs on the secondary after the repair"
note "resent: $differed"

note "a shard the secondary holds under another gfid is repaired"
# What gluster was seen doing here: a new shard written by concurrent
# requests (a merge) is recorded in the primary's changelog under a gfid it
# never got; geo-replication creates it on the secondary under that gfid,
# never fills it, and still completes the checkpoint. Done here by hand:
# another middle shard replaced on the secondary by an empty file with a
# new gfid, through a client with gluster's internal pid (the secondary is
# read-only to others, and .shard hidden).
# As above, the oldest untouched that can be had: a shard geo-replication
# visits again is put right by geo-replication itself (seen here), which
# leaves gdr's repair nothing to do. The check compares gfids: its data
# does not matter.
replaced=$(oldest_untouched_shard "$index,$stale")
[ -n "$replaced" ] || fail "no other shard of ${disks[0]} untouched since the verified cycle began"
note "shard $replaced of ${disks[0]} replaced: last written $(date -u -d "@$(stat -c %Y "$GDR_LAB_PRIMARY_BRICK/.shard/$gfid.$replaced")" +%T)"
shard=$GDR_LAB_SECONDARY_BRICK/.shard/$gfid.$replaced
primary_shard=$GDR_LAB_PRIMARY_BRICK/.shard/$gfid.$replaced
gfid_of() { getfattr -n trusted.gfid -e hex "$1" 2>/dev/null | sed -n 's/^trusted.gfid=0x//p'; }
[ -s "$shard" ] && [ "$(gfid_of "$shard")" = "$(gfid_of "$primary_shard")" ] ||
  fail "shard $replaced of ${disks[0]} is not on the secondary as on the primary before the test"
replace_shard() { rm "$1/.shard/$gfid.$replaced" && : >"$1/.shard/$gfid.$replaced"; }  # MOUNT
on_secondary_as_gluster replace_shard || fail "cannot replace the shard"
foreign=$(gfid_of "$shard")
[ -n "$foreign" ] && [ "$foreign" != "$(gfid_of "$primary_shard")" ] && [ ! -s "$shard" ] ||
  fail "the shard was not replaced on the secondary"
report=$(sync) || fail "the cycle did not repair the replaced shard: $report"
[ "$(json_get 'd["status"]' <<<"$report")" = success ] || fail "cycle with a replaced shard: $report"
differed=$(json_get '[s for s in d["steps"] if s["step"] == "verify"][0]["differed"]' <<<"$report")
[[ "$differed" == *"shard $replaced is another file (gfid ${foreign:0:8}"* ]] ||
  fail "the verification does not name the replaced shard: $differed"
repaired=$(json_get '[s for s in d["steps"] if s["step"] == "verify-repair"][0]["repaired"]' <<<"$report")
[[ "$repaired" == *"${disks[0]#"$GDR_LAB_PRIMARY_MOUNT"/}"* ]] || fail "the report does not list the repair: $report"
[ "$(gfid_of "$shard")" = "$(gfid_of "$primary_shard")" ] || fail "shard $replaced still has another gfid on the secondary"
cmp -s "$shard" "$primary_shard" || fail "shard $replaced differs on the secondary after the repair"
for vm in "${vms[@]}"; do
  [ "$(virsh dumpxml "$vm" | grep -c '<source file=')" = 1 ] || fail "$vm is not back on one image after the repair"
done
[ "$(overlays_left)" = 0 ] || fail "overlays left after the repaired cycle: $(overlays_left)"
note "repaired: $differed"

# Last: after a cycle against a stopped secondary, geo-replication was seen
# leaving the last shard of a base short on the next sync (README, "Known
# limits"); the sections above need a healthy session.
note "a cycle with the agent killed -9 during the merges"
# Merges capped at 1 MiB/s last seconds: the agent dies while they run and
# gdr-sync waits for the jobs its restart recovers.
sync --merge-bandwidth 1 >"$state/killed.json" &
sync_pid=$!
merging=""
for ((i = 0; i < 3000; i++)); do
  merging=$(grep -l '"state": "COMMIT"' "$AGENT_DIR"/state/jobs/*.json 2>/dev/null | head -1 || true)
  [ -n "$merging" ] && break
  kill -0 "$sync_pid" 2>/dev/null || break
  sleep 0.1
done
[ -n "$merging" ] || { wait "$sync_pid" || true; fail "no merge was seen running: $(cat "$state/killed.json")"; }
crash_and_relaunch_agent
note "agent killed while $(basename "$merging" .json) was in COMMIT; relaunched"
set +e
wait "$sync_pid"
rc=$?
set -e
report=$(cat "$state/killed.json")
[ "$rc" = 0 ] || fail "the cycle did not complete across the restart (exit $rc): $report"
[ "$(json_get 'd["status"]' <<<"$report")" = success ] || fail "cycle across the restart: $report"
for vm in "${vms[@]}"; do
  [ "$(virsh dumpxml "$vm" | grep -c '<source file=')" = 1 ] || fail "$vm is not back on one image after the restart"
done
[ "$(overlays_left)" = 0 ] || fail "overlays left after the restarted cycle: $(overlays_left)"

note "gdr-sync itself killed with -9 mid-cycle: the next run adopts its overlays"
(exec "$BIN/gdr-sync" --hosts "$AGENT_URL" "${TLS_ARGS[@]}" --volume "$GDR_LAB_PRIMARY" \
  --secondary "$GDR_LAB_SECONDARY_URL" --state-dir "$state" --timeout 5m --layout flat --json \
  >"$state/sync-killed.json" 2>&1) &
sync_pid=$!
on_overlays=""
for ((i = 0; i < 600; i++)); do
  n=0
  for vm in "${vms[@]}"; do
    [ "$(virsh dumpxml "$vm" | grep -c '<source file=')" = 2 ] && n=$((n + 1))
  done
  [ "$n" = "${#vms[@]}" ] && on_overlays=yes && break
  kill -0 "$sync_pid" 2>/dev/null || break
  sleep 0.1
done
kill -9 "$sync_pid" 2>/dev/null || true
wait "$sync_pid" 2>/dev/null || true
[ -n "$on_overlays" ] || fail "the VMs were never seen on overlays: $(cat "$state/sync-killed.json")"
[ -f "$state/cycle-journal.json" ] || fail "gdr-sync was killed and left no journal"
killed_flow=$(json_get 'd["flowId"]' <"$state/cycle-journal.json")
report=$(sync) || fail "the run after gdr-sync was killed failed: $report"
[ "$(json_get 'd["interrupted"]["flowId"]' <<<"$report")" = "$killed_flow" ] ||
  fail "the interrupted cycle $killed_flow is not reported: $report"
[ "$(json_get '[s for s in d["steps"] if s["step"] == "adopt"][0]["merged"]' <<<"$report")" = "${#vms[@]}" ] ||
  fail "the interrupted cycle's overlays were not all merged back: $report"
[ "$(json_get 'd["status"]' <<<"$report")" = success ] || fail "the cycle after the adoption: $report"
for vm in "${vms[@]}"; do
  [ "$(virsh dumpxml "$vm" | grep -c '<source file=')" = 1 ] || fail "$vm is not back on one image after the adoption"
done
[ ! -e "$state/cycle-journal.json" ] || fail "the journal outlived a complete cycle"
[ "$(overlays_left)" = 0 ] || fail "overlays left after the adopting cycle: $(overlays_left)"
note "adopted $killed_flow"

note "a cycle with the secondary volume stopped"
gluster --mode=script volume stop "$GDR_LAB_SECONDARY" force >/dev/null
set +e
report=$(sync --timeout 25s)
rc=$?
set -e
gluster --mode=script volume start "$GDR_LAB_SECONDARY" force >/dev/null
[ "$rc" = 1 ] || fail "expected exit code 1 (failed, merged back), got $rc: $report"
alert=$(json_get 'd["alert"]' <<<"$report")
[[ "$alert" == *geo-replication* ]] || fail "the alert does not name the step: $alert"
for vm in "${vms[@]}"; do
  [ "$(virsh dumpxml "$vm" | grep -c '<source file=')" = 1 ] || fail "$vm left on an overlay after the failure"
done
note "alert: $alert"
note "ok"
