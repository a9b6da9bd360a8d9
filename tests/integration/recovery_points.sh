#!/bin/bash
# The delta layout's promise: at every moment, a sync under way included,
# the secondary holds the three newest recovery points complete, and each
# point gdr reports complete is crash-consistent.
#
# A third VM writes records at random places over its whole disk (as a
# filesystem scatters its writes; its copy is the one that tears); the
# lab's other two write in order. Five cycles in the delta layout, three
# points kept: cycle 4 is the first to commit a delta into the bases, and
# cycle 5's sync ships that commit. During it the session is paused at six
# moments (a disaster freezes the secondary as it is). At each, exactly
# three points are complete, and the random writer's disk in the newest
# and in the oldest of them is read from the secondary through a fresh
# mount, through the chain the manifest names: each must pass the prefix
# check and hold at least the records it held when it was made. Its
# in-place base is checked too, and how often that copy was itself
# consistent is printed. The sequential writers (their disks hold every
# record since the lab came up: slow to read) are checked on the final
# point. Then: the check's teeth (a disk made of two points' shards is
# rejected), the definitions, and retention (three points, the deltas
# they need and no other). Last, a sixth cycle finds a delta the
# secondary does not hold at all and has it made and sent whole.
source "$(dirname "$0")/lib.sh"
require_lab
start_agent
state=$(mktemp -d /tmp/gdr-points-XXXXXX)
vm3=gdr-lab-vm3
BWLIMIT_KIB=5000
SNAPDIR=$GDR_LAB_PRIMARY_MOUNT/images/.gdr-snapshots
# The secondary as it is now: a fresh read-only mount (no cache can show
# older data), taken down again by thaw. (QEMU's own gluster:// access
# reads the same, but each use costs ~10 s in libgfapi's teardown.)
FRESH=$state/secondary
freeze_view() { mkdir -p "$FRESH"; mount -t glusterfs -o ro "$GDR_LAB_HOST:/$GDR_LAB_SECONDARY" "$FRESH"; }
thaw_view() { if mountpoint -q "$FRESH"; then umount "$FRESH"; fi; }

# Back to the flat layout, whatever happened: the cycle under way stopped
# (by pid), each VM merged into its base, the deltas no VM uses and this
# test's manifests removed, the third VM gone.
cycle_pid=""
rsync_options=$(georep config rsync-options)
cleanup() {
  thaw_view || true
  georep config rsync-options " $rsync_options" >/dev/null 2>&1 || true
  if [ -n "$cycle_pid" ]; then kill "$cycle_pid" 2>/dev/null || true; wait "$cycle_pid" 2>/dev/null || true; fi
  georep resume force >/dev/null 2>&1 || true
  # Nothing here may keep the rest from running: the agent must stop.
  flatten_lab_vms "$state/gdr-before" || true
  stop_agent
  "$LAB" shrink --vms 2 >/dev/null 2>&1 || true
  rm -rf "$state"
}
trap cleanup EXIT
gdr_files >"$state/gdr-before"

# The session stopped between cycles (said, whatever the default): each
# sync then carries all that changed since the last, and its six moments
# need a long one.
# --verify full: the promise above holds only when every byte of the
# bases is compared. Cycle 5's sync ships a commit into the bases, and a
# run here once left a 4 MiB stride of a base stale on the secondary,
# outside what the default sample check reads (README, "Known limits").
cycle() { # cycle NAME [TIMEOUT]: one delta-layout cycle, its report in $state/NAME.json
  "$BIN/gdr-sync" --hosts "$AGENT_URL" "${TLS_ARGS[@]}" --volume "$GDR_LAB_PRIMARY" \
    --secondary "$GDR_LAB_SECONDARY_URL" --state-dir "$state/sync" --timeout "${2:-5m}" --layout delta --session stop \
    --verify full --json \
    >"$state/$1.json" 2>"$state/$1.log" || return
  # A copy that differed and was resent is no failure, but worth seeing.
  json_get '" ".join("%s: %s" % (s["step"], s["differed"]) for s in d["steps"] if "differed" in s)' <"$state/$1.json" |
    while read -r differed; do [ -z "$differed" ] || note "$1 resent what differed on the secondary: $differed"; done
}
point_of() { json_get 'd["point"]["id"]' <"$state/$1.json"; }

# The newest point the secondary holds complete, as gdr reports it:
# "ID VM IMAGE" lines, IMAGE the delta (or the base) of each VM's disk.
newest_complete() {
  "$BIN/gdr-sync" points --hosts "$AGENT_URL" "${TLS_ARGS[@]}" --secondary "$GDR_LAB_SECONDARY_URL" --json |
    tee "$state/points.json" | python3 -c '
import json, sys
points = json.load(sys.stdin)["points"]
complete = [p for p in points if p["state"] == "complete"]
if complete:
    print(complete[0]["id"])' 
}
# The complete points, newest first, as listed by the last newest_complete.
complete_points() { json_get '" ".join(p["id"] for p in d["points"] if p["state"] == "complete")' <"$state/points.json"; }
# images_of ID -> "VM IMAGE BASE" lines: IMAGE reads the point's disk on
# the fresh mount through the chain its manifest names (a copy kept: a
# later cycle prunes it on the primary), BASE is its base there.
images_of() {
  mkdir -p "$state/manifests"
  if [ -e "$GDR_LAB_PRIMARY_MOUNT/.gdr/points/$1.json" ]; then
    cp "$GDR_LAB_PRIMARY_MOUNT/.gdr/points/$1.json" "$state/manifests/"
  fi
  "$LAB" point-image "$state/manifests/$1.json" "$FRESH" | cut -d' ' -f1,3,4
}
check_image() { "$LAB" check-consistency "$1"; }
# Where point ID's files differ between the primary and the fresh mount:
# the diagnosis printed with a failed check.
explain() {
  echo "its files, primary against secondary (and, where they differ, on the bricks):"
  "$LAB" compare-point "$state/manifests/$1.json" "$GDR_LAB_PRIMARY_MOUNT" "$FRESH" "$GDR_LAB_PRIMARY_BRICK" "$GDR_LAB_SECONDARY_BRICK" 2>&1
}

note "a third VM, writing at random places"
"$LAB" shrink --vms 2 >/dev/null
# A small disk (16 shards): the random writer still spreads over every
# shard, and reading its copy at every moment stays quick.
GDR_LAB_DISK_SIZE=64M "$LAB" up --vms 3 --writer random >/dev/null
grep -q 'gdr-guest: writing random records' "$GDR_LAB_DIR/vms/$vm3.console" || fail "$vm3 is not the random writer"

note "cycle 1: the VMs move onto overlays (their first deltas)"
cycle c1 || fail "cycle 1: $(cat "$state/c1.json" "$state/c1.log")"
for vm in gdr-lab-vm1 gdr-lab-vm2 $vm3; do
  top=$(virsh domblklist "$vm" | awk '$1 == "vda" {print $2}')
  case "$top" in */.gdr-snapshots/$vm.*) ;; *) fail "$vm is on $top after cycle 1, not on an overlay" ;; esac
done

# records[ID]: the random writer's records in point ID, read once it was sealed.
declare -A records
sealed_point() { # sealed_point N: cycle N ran; its point is the newest complete one, read
  local p
  p=$(point_of "c$1")
  [ "$(newest_complete)" = "$p" ] || fail "the newest complete point is not cycle $1's $p: $(cat "$state/points.json")"
  freeze_view
  while read -r vm image base; do
    [ "$vm" = "$vm3" ] || continue  # the sequential writers: once, at the end (slow to read)
    case "$image" in json:*) ;; *) fail "$vm's point $p has no delta: $image" ;; esac
    r=$(check_image "$image") || fail "$vm in point $p is not consistent: $r; $(explain "$p")"
    records[$p]=$(json_get 'd["records"]' <<<"$r")
    [ "${records[$p]}" -gt 0 ] || fail "$vm in point $p holds no records"
    qemu-img convert -U -O raw -S 4k "$image" "$state/$p.raw"
  done < <(images_of "$p")
  thaw_view
  note "point $p: $vm3 holds records 1..${records[$p]}"
}
for n in 2 3 4; do
  # A WAN link, of sorts, from cycle 4 on: the transfer then fills most of
  # a sync, so the moments below fall while files are being written on
  # the secondary, and cycle 4 (slow) leaves cycle 5 a large delta to ship.
  limit=""
  if [ $n = 4 ]; then
    georep config rsync-options " $rsync_options --bwlimit=$BWLIMIT_KIB" >/dev/null
    sleep 5
    limit=" (rsync at most $BWLIMIT_KIB KiB/s)"
  fi
  note "cycle $n$limit"
  cycle "c$n" || fail "cycle $n: $(cat "$state/c$n.json" "$state/c$n.log")"
  sealed_point $n
done
p2=$(point_of c2) p4=$(point_of c4)
# Cycle 4 made the fourth point: the first delta went into the bases.
committed=$(json_get "[v['merge']['vda'].get('committed', []) for v in d['vms'] if v['name'] == '$vm3'][0]" <"$state/c4.json")
[[ $committed == *"$vm3"* ]] || fail "cycle 4 committed no delta of $vm3: $(cat "$state/c4.json")"
sync_seconds=$(json_get '[s for s in d["steps"] if s["step"] == "georep"][0]["duration"]' <"$state/c4.json")

sleep 10
# Cycle 5 ships its deltas and that commit, over a link half as fast: its
# sync must outlast the moments below (a CI run here saw cycle 5's sync
# end after 3 of them, at cycle 4's speed: the guests' writes vary). The
# moments come 2 s after one another, pauses left out (each pause, with
# its reads, takes about 5 s); during a pause gluster's changelogs keep
# rolling over, so the sync catches up quickly after each.
georep config rsync-options " $rsync_options --bwlimit=$((BWLIMIT_KIB / 2))" >/dev/null
note "cycle 5, frozen at six moments of its sync (rsync at most $((BWLIMIT_KIB / 2)) KiB/s; cycle 4's took ${sync_seconds} s)"
# Its geo-rep step's bound covers the time this test keeps the session
# frozen (six moments of 12-25 s each, on a busy machine; a CI run here
# saw a 5-minute bound run out with ten moments checked).
cycle c5 15m &
cycle_pid=$!
for ((i = 0; i < 600; i++)); do
  [[ $(client Host getJobs) == *'"georep.sync"'* ]] && break
  kill -0 $cycle_pid 2>/dev/null || break
  sleep 0.1
done
# Snapshot and manifest are done when the sync job appears: its moments
# count from here, pauses left out.
midsync=0 inplace_consistent=0 inplace_checked=0 unsealed=0
MOMENTS=6
for ((m = 0; m < MOMENTS; m++)); do
  sleep 2
  syncing=no
  client Host getJobs | python3 -c '
import json, sys
jobs = json.load(sys.stdin)["jobs"].values()
sys.exit(0 if any(j["type"] == "georep.sync" and j["endTime"] is None for j in jobs) else 1)' && syncing=yes
  georep pause force >/dev/null 2>&1 || true
  frozen=$SECONDS
  freeze_view
  [ $syncing = yes ] && midsync=$((midsync + 1))
  newest_complete >/dev/null || true
  read -r -a complete <<<"$(complete_points)"
  [ "${#complete[@]}" = 3 ] || {
    georep resume force >/dev/null 2>&1
    fail "moment $m: ${#complete[@]} complete points, not 3: $(cat "$state/points.json")"
  }
  # The first cycle's point (its bases alone), pruned on the primary by
  # cycle 4, may still be listed here: superseded, never complete.
  [[ " ${complete[*]} " != *" $(point_of c1) "* ]] || fail "moment $m: cycle 1's point, bases read alone, is complete"
  # Cycle 5's manifest already there, its point not sealed yet: the case
  # sampled checksums alone got wrong.
  newest=$(json_get 'd["points"][0]["id"] + " " + str(d["points"][0]["sealed"])' <"$state/points.json")
  [ "$newest" = "${complete[0]} True" ] || unsealed=$((unsealed + 1))
  # The newest and the oldest complete point, and the in-place base, read
  # side by side.
  inplace=""
  for id in "${complete[0]}" "${complete[2]}"; do
    while read -r vm image base; do
      [ "$vm" = "$vm3" ] || continue
      if [ -z "$inplace" ]; then
        check_image "$base" >"$state/inplace.json" &
        inplace=$!
      fi
      r=$(check_image "$image") || {
        georep resume force >/dev/null 2>&1
        fail "moment $m (syncing: $syncing): $vm in the complete point $id is not consistent: $r; $(explain "$id")"
      }
      n=$(json_get 'd["records"]' <<<"$r")
      [ "$n" -ge "${records[$id]:-0}" ] ||
        fail "moment $m: $vm in point $id holds $n records, fewer than the ${records[$id]} it held when sealed"
    done < <(images_of "$id")
  done
  inplace_checked=$((inplace_checked + 1))
  if wait $inplace; then inplace_consistent=$((inplace_consistent + 1)); fi
  thaw_view
  georep resume force >/dev/null 2>&1 || true
  note "moment $m: syncing $syncing, complete points ${complete[*]} (newest and oldest consistent; $((SECONDS - frozen)) s frozen)"
done
wait $cycle_pid || { cycle_pid=""; fail "cycle 5: $(cat "$state/c5.json" "$state/c5.log")"; }
cycle_pid=""
p5=$(point_of c5)
[ "$midsync" -ge $((MOMENTS / 2 + 1)) ] || fail "only $midsync of the $MOMENTS moments fell inside the sync: the test did not test"
note "moments inside the sync: $midsync of $MOMENTS, with cycle 5's point listed but not sealed: $unsealed; the in-place copy of $vm3's base consistent at $inplace_consistent of $inplace_checked"

note "after cycle 5: its point is complete, each VM consistent and further on"
[ "$(newest_complete)" = "$p5" ] || fail "the newest complete point is not cycle 5's $p5"
freeze_view
# The seal is the secondary's own: written there, never on the primary.
[ -s "$FRESH/.gdr/points/$p5.seal" ] || fail "no seal of $p5 on the secondary: $(ls "$FRESH/.gdr/points")"
[ ! -e "$GDR_LAB_PRIMARY_MOUNT/.gdr/points/$p5.seal" ] || fail "a seal of $p5 on the primary"
while read -r vm image base; do
  r=$(check_image "$image") || fail "$vm in point $p5 is not consistent: $r; $(explain "$p5")"
  n=$(json_get 'd["records"]' <<<"$r")
  [ "$n" -gt "${records[$p4]:-0}" ] || fail "$vm in point $p5 holds $n records, not more than $p4's ${records[$p4]:-0}"
  note "$vm: records 1..$n"
  if [ "$vm" = "$vm3" ]; then qemu-img convert -U -O raw -S 4k "$image" "$state/p5.raw"; fi
done < <(images_of "$p5")
thaw_view

note "the check has teeth: $vm3's disk made of the shards of two points is rejected"
# The first half of its 4 MiB shards from point 5, the rest from point 2:
# each half is consistent on its own, together they are no prefix.
python3 - "$state/p5.raw" "$state/$p2.raw" "$state/torn.raw" <<'EOF'
import os, sys
newer, older, out = sys.argv[1:4]
size = os.path.getsize(newer)
shard = 4 << 20
half = size // shard // 2 * shard
with open(newer, "rb") as a, open(older, "rb") as b, open(out, "wb") as o:
    o.truncate(size)
    for start in range(0, size, shard):
        src = a if start < half else b
        src.seek(start)
        o.seek(start)
        o.write(src.read(shard))
EOF
if r=$(check_image "$state/torn.raw"); then fail "a copy mixing two points passed the prefix check: $r"; fi
[ "$(json_get 'd["consistent"]' <<<"$r")" = False ] || fail "the check could not read the mixed copy: $r"
note "rejected: $(json_get 'd.get("reason", "")' <<<"$r")"

note "the definition of $vm3 on the secondary names its base"
mnt=$(mktemp -d)
mount -t glusterfs -o ro "$GDR_LAB_HOST:/$GDR_LAB_SECONDARY" "$mnt"
trap '{ umount "$mnt" || umount -l "$mnt"; } 2>/dev/null || true; rmdir "$mnt" 2>/dev/null || true; cleanup' EXIT
virsh dumpxml --inactive "$vm3" >"$state/primary.xml"
sha=$(json_get "[v for v in d['vms'] if v['name'] == '$vm3'][0]['definition']['sha256']" <"$state/c5.json")
definition=$(json_get "[v for v in d['vms'] if v['name'] == '$vm3'][0]['definition']['path']" <"$state/c5.json")
"$ROOT/tests/integration/check_definition.py" "$mnt/$definition" "$state/primary.xml" \
  "$GDR_LAB_PRIMARY_MOUNT" "$mnt" "$sha" "$GDR_LAB_PRIMARY_MOUNT/images/$vm3.qcow2" || fail "the definition of $vm3"

note "retention: three points, and per VM the deltas they need and its overlay only"
newest_complete >/dev/null
read -r -a complete <<<"$(complete_points)"
[ "${complete[*]}" = "$p5 $p4 $(point_of c3)" ] || fail "complete points: ${complete[*]}: $(cat "$state/points.json")"
[ "$(ls "$GDR_LAB_PRIMARY_MOUNT/.gdr/points" | grep -c '\.json$')" = 3 ] || fail "points kept: $(ls "$GDR_LAB_PRIMARY_MOUNT/.gdr/points")"
[[ $(json_get 'd["point"]["pruned"]' <"$state/c5.json") == *"$p2"* ]] || fail "cycle 5 did not prune $p2"
# Point 5 stands on deltas 2, 3 and 4 (2 committed into the base by
# cycle 5, kept until the next point is sealed); delta 1 is gone.
for vm in gdr-lab-vm1 gdr-lab-vm2 $vm3; do
  n=$(ls "$SNAPDIR" | grep -c "^$vm\.")
  [ "$n" = 4 ] || fail "$vm has $n files in the snapshot directory: $(ls "$SNAPDIR")"
  n=$(virsh dumpxml "$vm" | grep -c "<source file=")
  [ "$n" = 4 ] || fail "$vm's chain holds $n images, not its base, two deltas and its overlay"
done
[[ $(json_get 'd["point"]["removedDeltas"]' <"$state/c5.json") == *"$vm3"* ]] || fail "cycle 5 removed no delta of $vm3"
while read -r vm image base; do
  [ "$vm" = "$vm3" ] || continue
  first=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1][5:])["file"]["filename"])' "$image")
  [ -e "$GDR_LAB_PRIMARY_MOUNT/${first#"$FRESH"/}" ] && fail "point $p2's delta $first is still on the primary"
done < <(images_of "$p2")

note "a delta the secondary does not hold at all is made and sent whole"
# Seen with a 1 s changelog rollover: a new overlay's creation never
# reached the secondary, the checkpoint completed all the same, and no
# later sync sent it. Here gdr-lab-vm1's overlay (the next point's delta)
# is deleted on the secondary as gluster's internal clients delete.
top=$(virsh domblklist gdr-lab-vm1 --details | awk '$2 == "disk" {print $4; exit}')
rel=${top#"$GDR_LAB_PRIMARY_MOUNT"/}
client GlusterVolume overlayDelete volfileServers="[\"$GDR_LAB_HOST\"]" volumeName="$GDR_LAB_SECONDARY" \
  paths="[\"$rel\"]" >/dev/null || fail "could not delete $rel on the secondary"
[ -e "$GDR_LAB_SECONDARY_BRICK/$rel" ] && fail "$rel is still on the secondary's brick"
cycle c6 || fail "cycle 6, with its delta missing on the secondary: $(cat "$state/c6.json" "$state/c6.log")"
json_get '[s for s in d["steps"] if s["step"] == "verify"][0]["differed"]' <"$state/c6.json" |
  grep -q "does not hold $rel at all" || fail "cycle 6 did not find $rel missing: $(cat "$state/c6.json")"
[ "$(json_get '[s for s in d["steps"] if s["step"] == "verify-repair"][0]["repaired"]' <"$state/c6.json")" = "['$rel']" ] ||
  fail "cycle 6 did not repair $rel: $(cat "$state/c6.json")"
[ -s "$GDR_LAB_SECONDARY_BRICK/$rel" ] || fail "$rel is not on the secondary's brick after cycle 6"
marked=$(json_get "[s for s in d['steps'] if s['step'] == 'verify'][0]['resync']['$rel']" <"$state/c6.json")
note "cycle 6 resent $rel whole ($marked pieces marked), then verified it"
note "ok"
