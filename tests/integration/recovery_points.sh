#!/bin/bash
# The delta layout's promise: at every moment, a sync under way included,
# the secondary holds a complete recovery point, and the newest point gdr
# reports complete is crash-consistent.
#
# A third VM writes records at random places over its whole disk (as a
# filesystem scatters its writes; its copy is the one that tears); the
# lab's other two write in order. Three cycles in the delta layout; during
# the third one's sync the session is paused at ten moments (a disaster
# freezes the secondary as it is), and at each the random writer's disk in
# the newest point gdr reports complete (sealed, and its files as its
# manifest says) is read from the secondary through a fresh mount: it must
# pass the prefix check and hold at least the records of the point before. Its in-place base is checked too, and how often that
# copy was itself consistent is printed. The sequential writers (their
# disks hold every record since the lab came up: slow to read) are checked
# on the final point. Then: the check's teeth (a disk made of two points'
# shards is rejected), the definitions, and retention (one point, no
# stray delta).
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
secondary_url() { echo "$FRESH/$1"; }

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
  local vm id top job f
  for vm in $(virsh list --name | grep '^gdr-lab-vm'); do
    for _ in 1 2 3; do  # a drive may be two overlays deep
      id=$(virsh domuuid "$vm")
      top=$(virsh domblklist "$vm" | awk '$1 == "vda" {print $2}')
      case "$top" in */.gdr-snapshots/*) ;; *) break ;; esac
      job=$(client VM merge vmID="$id" drive=vda deleteTop=true 2>/dev/null | json_get 'd["jobId"]') || break
      wait_job "$job" 300 >/dev/null || true
    done
  done
  local inuse
  inuse=$(for vm in $(virsh list --name); do virsh dumpxml "$vm"; done | grep -o "source file='[^']*'")
  for f in "$SNAPDIR"/gdr-lab-vm*.qcow2; do
    [ -e "$f" ] && [[ $inuse != *"'$f'"* ]] && rm -f "$f"
  done
  for f in "$GDR_LAB_PRIMARY_MOUNT"/.gdr/points/*.json "$GDR_LAB_PRIMARY_MOUNT"/.gdr/vms/*.xml; do
    [ -e "$f" ] && ! grep -qxF "$f" "$state/gdr-before" && rm -f "$f"
  done
  stop_agent
  "$LAB" shrink --vms 2 >/dev/null 2>&1 || true
  rm -rf "$state"
}
trap cleanup EXIT
ls -d "$GDR_LAB_PRIMARY_MOUNT"/.gdr/points/*.json "$GDR_LAB_PRIMARY_MOUNT"/.gdr/vms/*.xml 2>/dev/null >"$state/gdr-before" || true

cycle() { # cycle NAME: one delta-layout cycle, its report in $state/NAME.json
  "$BIN/gdr-sync" --hosts "$AGENT_URL" "${TLS_ARGS[@]}" --volume "$GDR_LAB_PRIMARY" \
    --secondary "$GDR_LAB_SECONDARY_URL" --state-dir "$state/sync" --timeout 5m --layout delta --json \
    >"$state/$1.json" 2>"$state/$1.log"
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
images_of() { # images_of ID -> "VM IMAGE" lines, from the manifest on the primary
  python3 - "$GDR_LAB_PRIMARY_MOUNT/.gdr/points/$1.json" "$state/manifests/$1.json" <<'EOF'
import json, os, shutil, sys
path, copy = sys.argv[1], sys.argv[2]
if os.path.exists(path):  # kept: a later cycle may prune it on the primary
    os.makedirs(os.path.dirname(copy), exist_ok=True)
    shutil.copy(path, copy)
for vm in json.load(open(copy))["vms"]:
    for d in vm["disks"]:
        print(vm["name"], (d.get("delta") or d)["path"], d["path"])
EOF
}
check_image() { "$LAB" check-consistency "$1"; }

note "a third VM, writing at random places"
"$LAB" shrink --vms 2 >/dev/null
# A small disk (16 shards): the random writer still spreads over every
# shard, and reading its copy ten times stays quick.
GDR_LAB_DISK_SIZE=64M "$LAB" up --vms 3 --writer random >/dev/null
grep -q 'gdr-guest: writing random records' "$GDR_LAB_DIR/vms/$vm3.console" || fail "$vm3 is not the random writer"

note "cycle 1: the VMs move onto overlays (their first deltas)"
cycle c1 || fail "cycle 1: $(cat "$state/c1.json" "$state/c1.log")"
for vm in gdr-lab-vm1 gdr-lab-vm2 $vm3; do
  top=$(virsh domblklist "$vm" | awk '$1 == "vda" {print $2}')
  case "$top" in */.gdr-snapshots/$vm.*) ;; *) fail "$vm is on $top after cycle 1, not on an overlay" ;; esac
done

# A WAN link, of sorts: the transfer then fills most of a sync, so the
# moments below fall while files are being written on the secondary.
georep config rsync-options " $rsync_options --bwlimit=$BWLIMIT_KIB" >/dev/null
sleep 5
note "cycle 2: the first point with deltas (rsync at most $BWLIMIT_KIB KiB/s)"
cycle c2 || fail "cycle 2: $(cat "$state/c2.json" "$state/c2.log")"
p2=$(point_of c2)
[ "$(newest_complete)" = "$p2" ] || fail "the newest complete point is not cycle 2's $p2"
declare -A before
freeze_view
while read -r vm image base; do
  case "$image" in images/.gdr-snapshots/*) ;; *) fail "$vm's point has no delta: $image" ;; esac
  # The lab's sequential writers hold every record since the lab came up
  # (slow to read): they are checked once, at the end.
  [ "$vm" = "$vm3" ] || continue
  r=$(check_image "$(secondary_url "$image")") || fail "$vm in point $p2 is not consistent: $r"
  before[$vm]=$(json_get 'd["records"]' <<<"$r")
  [ "${before[$vm]}" -gt 0 ] || fail "$vm in point $p2 holds no records"
  qemu-img convert -U -O raw -S 4k "$(secondary_url "$image")" "$state/p2.raw"
done < <(images_of "$p2")
thaw_view
note "point $p2: $vm3 holds records 1..${before[$vm3]}"
sync_seconds=$(json_get '[s for s in d["steps"] if s["step"] == "georep"][0]["duration"]' <"$state/c2.json")

sleep 10
# Cycle 3 ships its deltas and, once more, cycle 2's (committed into the
# bases). Its moments are spread over 80 % of cycle 2's sync, pauses left
# out: during a pause gluster's changelogs keep rolling over, so the sync
# catches up quickly after each.
note "cycle 3, frozen at ten moments of its sync (cycle 2's took ${sync_seconds} s)"
cycle c3 &
cycle_pid=$!
for ((i = 0; i < 600; i++)); do
  [[ $(client Host getJobs) == *'"georep.sync"'* ]] && break
  kill -0 $cycle_pid 2>/dev/null || break
  sleep 0.1
done
# Snapshot and manifest are done when the sync job appears: its moments
# count from here, pauses left out.
midsync=0 inplace_consistent=0 inplace_checked=0 unsealed=0
for ((m = 0; m < 10; m++)); do
  sleep "$(python3 -c "print($sync_seconds * 0.8 / 10)")"
  syncing=no
  client Host getJobs | python3 -c '
import json, sys
jobs = json.load(sys.stdin)["jobs"].values()
sys.exit(0 if any(j["type"] == "georep.sync" and j["endTime"] is None for j in jobs) else 1)' && syncing=yes
  georep pause force >/dev/null 2>&1 || true
  frozen=$SECONDS
  freeze_view
  [ $syncing = yes ] && midsync=$((midsync + 1))
  id=$(newest_complete) || true
  [ -n "$id" ] || { georep resume force >/dev/null 2>&1; fail "moment $m: no complete point on the secondary"; }
  # Cycle 3's manifest already there, its point not sealed yet: the case
  # sampled checksums alone got wrong.
  newest=$(json_get 'd["points"][0]["id"] + " " + str(d["points"][0]["sealed"])' <"$state/points.json")
  [ "$newest" = "$id True" ] || unsealed=$((unsealed + 1))
  while read -r vm image base; do
    [ "$vm" = "$vm3" ] || continue
    # The point and the in-place base, read side by side.
    check_image "$(secondary_url "$base")" >"$state/inplace.json" &
    inplace=$!
    r=$(check_image "$(secondary_url "$image")") || {
      georep resume force >/dev/null 2>&1
      fail "moment $m (syncing: $syncing): $vm in the complete point $id is not consistent: $r"
    }
    n=$(json_get 'd["records"]' <<<"$r")
    [ "$n" -ge "${before[$vm]}" ] || fail "moment $m: $vm in point $id holds $n records, fewer than point $p2's ${before[$vm]}"
    inplace_checked=$((inplace_checked + 1))
    if wait $inplace; then inplace_consistent=$((inplace_consistent + 1)); fi
  done < <(images_of "$id")
  thaw_view
  georep resume force >/dev/null 2>&1 || true
  note "moment $m: syncing $syncing, newest complete point $id consistent ($((SECONDS - frozen)) s frozen)"
done
wait $cycle_pid || { cycle_pid=""; fail "cycle 3: $(cat "$state/c3.json" "$state/c3.log")"; }
cycle_pid=""
p3=$(point_of c3)
[ "$midsync" -ge 5 ] || fail "only $midsync of the 10 moments fell inside the sync: the test did not test"
note "moments inside the sync: $midsync of 10, with cycle 3's point listed but not sealed: $unsealed; the in-place copy of $vm3's base consistent at $inplace_consistent of $inplace_checked"

note "after cycle 3: its point is complete, each VM consistent and further on"
[ "$(newest_complete)" = "$p3" ] || fail "the newest complete point is not cycle 3's $p3"
freeze_view
# The seal is the secondary's own: written there, never on the primary.
[ -s "$FRESH/.gdr/points/$p3.seal" ] || fail "no seal of $p3 on the secondary: $(ls "$FRESH/.gdr/points")"
[ ! -e "$GDR_LAB_PRIMARY_MOUNT/.gdr/points/$p3.seal" ] || fail "a seal of $p3 on the primary"
while read -r vm image base; do
  r=$(check_image "$(secondary_url "$image")") || fail "$vm in point $p3 is not consistent: $r"
  n=$(json_get 'd["records"]' <<<"$r")
  [ "$n" -gt "${before[$vm]:-0}" ] || fail "$vm in point $p3 holds $n records, not more than $p2's ${before[$vm]:-0}"
  note "$vm: records 1..$n"
  if [ "$vm" = "$vm3" ]; then qemu-img convert -U -O raw -S 4k "$(secondary_url "$image")" "$state/p3.raw"; fi
done < <(images_of "$p3")
thaw_view

note "the check has teeth: $vm3's disk made of the shards of two points is rejected"
# The first half of its 4 MiB shards from point 3, the rest from point 2:
# each half is consistent on its own, together they are no prefix.
python3 - "$state/p3.raw" "$state/p2.raw" "$state/torn.raw" <<'EOF'
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
trap 'umount "$mnt"; rmdir "$mnt"; cleanup' EXIT
virsh dumpxml --inactive "$vm3" >"$state/primary.xml"
sha=$(json_get "[v for v in d['vms'] if v['name'] == '$vm3'][0]['definition']['sha256']" <"$state/c3.json")
definition=$(json_get "[v for v in d['vms'] if v['name'] == '$vm3'][0]['definition']['path']" <"$state/c3.json")
"$ROOT/tests/integration/check_definition.py" "$mnt/$definition" "$state/primary.xml" \
  "$GDR_LAB_PRIMARY_MOUNT" "$mnt" "$sha" "$GDR_LAB_PRIMARY_MOUNT/images/$vm3.qcow2" || fail "the definition of $vm3"

note "retention: one point on the primary, and per VM its delta and its overlay only"
[ "$(ls "$GDR_LAB_PRIMARY_MOUNT/.gdr/points" | grep -c '\.json$')" = 1 ] || fail "points kept: $(ls "$GDR_LAB_PRIMARY_MOUNT/.gdr/points")"
for vm in gdr-lab-vm1 gdr-lab-vm2 $vm3; do
  n=$(ls "$SNAPDIR" | grep -c "^$vm\.")
  [ "$n" = 2 ] || fail "$vm has $n files in the snapshot directory: $(ls "$SNAPDIR")"
done
[[ $(json_get 'd["point"]["removedDeltas"]' <"$state/c3.json") == *"$vm3"* ]] || fail "cycle 3 removed no delta of $vm3"
while read -r vm image base; do
  [ -e "$GDR_LAB_PRIMARY_MOUNT/$image" ] && fail "point $p2's delta $image is still on the primary"
done < <(images_of "$p2")
note "ok"
