#!/bin/bash
# A DR drill on the two-site lab (scripts/lab-sites): gdr-sync drill boots
# every VM of the newest complete recovery point on s1, through s1's agent
# and its read-only mount of the secondary, and changes nothing.
#  1. Cycles with the guests writing until the newest point is a delta over
#     a base (one after sites_schedule, two on a fresh lab). The drill boots both VMs from the newest point:
#     each passes (its guest did disk I/O), with a boot time. After it no
#     copy runs on s1, no overlay is left, the point's files read the same
#     (SHA-256 of each image through s1's mount) and the geo-replication
#     session's config and status are as before.
#  2. A drill while a cycle runs: both succeed.
#  3. Teeth: a sampled shard of an image of the newest point moved off
#     s1's brick. The drill from that point fails (exit 1) and names the
#     VM; no copy is started for it. The shard goes back. `gdr-sync
#     history` lists the three drills.
source "$(dirname "$0")/lib.sh"
require_sites
STATE=$(mktemp -d /tmp/gdr-drill-XXXXXX)
cycle_pid=""
aside=""
shard=""

cleanup() {
  if [ -n "$cycle_pid" ]; then kill "$cycle_pid" 2>/dev/null || true; wait "$cycle_pid" 2>/dev/null || true; fi
  if [ -n "$aside" ] && [ -e "$aside" ]; then mv "$aside" "$shard"; fi
  rm -rf "$STATE"
}
trap cleanup EXIT

cycle() { # one cycle on p1
  # The session stopped after it: a kept one goes on shipping the cycle's
  # commit (the base and the backing name of the delta above), which would
  # change the files the whole-file sums below compare.
  # shellcheck disable=SC2086
  "$SITES" on p1 "$BIN/gdr-sync" --hosts "$GDR_SITES_PRIMARY_AGENTS" --volume "$GDR_SITES_PRIMARY" \
    --secondary "$GDR_SITES_SECONDARY_URL" $GDR_SITES_TLS --state-dir "$STATE/sync" --timeout 5m --session stop
}
drill() { # drill ARGS...: gdr-sync drill on s1
  # shellcheck disable=SC2086
  "$SITES" on s1 "$BIN/gdr-sync" drill --secondary "$GDR_SITES_SECONDARY_URL" \
    --secondary-agent "$GDR_SITES_SECONDARY_AGENT" $GDR_SITES_TLS --state-dir "$STATE/drill" "$@"
}
# The newest point's manifest, read on s1's brick.
newest_manifest() { ls "$GDR_SITES_S1_BRICK"/.gdr/points/*.json | sort | tail -n 1; }
# "PATH" for every image of the point (bases, deltas), volume-relative.
point_images() {
  python3 -c 'import json,sys
m = json.load(open(sys.argv[1]))
for vm in m["vms"]:
    for d in vm["disks"]:
        for i in [d] + d.get("olderDeltas", []) + ([d["delta"]] if d.get("delta") else []):
            print(i["path"])' "$1"
}
# SHA-256 of each image, read through s1's mount of the secondary.
point_sums() { # point_sums MANIFEST
  local path
  for path in $(point_images "$1"); do
    "$SITES" on s1 sha256sum "$GDR_SITES_SECONDARY_MOUNT/$path"
  done
}
session_state() {
  "$SITES" on p1 gluster --mode=script volume geo-replication "$GDR_SITES_PRIMARY" "$GDR_SITES_SECONDARY_URL" config |
    sort
  "$SITES" on p1 gluster --mode=script volume geo-replication "$GDR_SITES_PRIMARY" "$GDR_SITES_SECONDARY_URL" status |
    awk 'NR > 3 { print $1, $2, $3, $7 }' | sort
}
copies_on_s1() { "$SITES" on s1 virsh -c qemu:///system list --name | grep -c '^drill-' || true; }

every_disk_has_delta() { # MANIFEST
  python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); sys.exit(0 if all(d.get("delta") for v in m["vms"] for d in v["disks"]) else 1)' "$1"
}
note "cycles with the guests writing, until the newest point is a delta over a base"
# One after the cycles of sites_schedule; two on a freshly made lab (the
# first point of the delta layout is the bases alone).
for i in 1 2; do
  cycle >"$STATE/cycle$i.out" 2>&1 || fail "cycle $i failed: $(tail -n 20 "$STATE/cycle$i.out")"
  manifest=$(newest_manifest)
  every_disk_has_delta "$manifest" && break
done
point=$(basename "$manifest" .json)
every_disk_has_delta "$manifest" || fail "point $point has a disk without a delta: the drill would not read a chain"
point_sums "$manifest" >"$STATE/sums.before"
session_state >"$STATE/session.before"

note "1. drill of the newest complete point ($point)"
drill --json >"$STATE/drill1.json" 2>"$STATE/drill1.err" || fail "the drill failed: $(cat "$STATE/drill1.json" "$STATE/drill1.err")"
report=$(cat "$STATE/drill1.json")
[ "$(json_get 'd["point"]' <<<"$report")" = "$point" ] || fail "the drill did not take the newest point $point: $report"
[ "$(json_get 'len(d["vms"])' <<<"$report")" = 2 ] || fail "not every VM was drilled: $report"
while read -r name result boot; do
  note "   $name $result, first disk I/O after $boot s"
  [ "$result" = passed ] || fail "$name did not pass: $report"
done < <(json_get '"\n".join("%s %s %.1f" % (v["name"], v["result"], v.get("bootSeconds", -1)) for v in d["vms"])' <<<"$report")
[ "$(copies_on_s1)" = 0 ] || fail "a drill copy still runs on s1"
left=$(find "$GDR_SITES_DIR/hosts/s1/gdr-state/drills" -name '*.qcow2' | wc -l)
[ "$left" = 0 ] || fail "$left drill overlays left on s1"
grep -q 'gdr-guest: wrote' "$GDR_SITES_DIR"/hosts/s1/gdr-state/drills/"$(json_get 'd["jobId"]' <<<"$report")"/*.console ||
  fail "no drill copy's guest wrote records"
point_sums "$manifest" >"$STATE/sums.after"
diff "$STATE/sums.before" "$STATE/sums.after" || fail "the drill changed the point's files"
session_state >"$STATE/session.after"
diff "$STATE/session.before" "$STATE/session.after" || fail "the drill changed the geo-replication session"

note "2. a drill while a cycle runs"
# shellcheck disable=SC2086
nsenter -t "$(cat "$GDR_SITES_DIR/run/p1/holder.pid")" -n -m -- "$BIN/gdr-sync" --hosts "$GDR_SITES_PRIMARY_AGENTS" \
  --volume "$GDR_SITES_PRIMARY" --secondary "$GDR_SITES_SECONDARY_URL" $GDR_SITES_TLS --state-dir "$STATE/sync" \
  --timeout 5m >"$STATE/cycle3.out" 2>&1 &
cycle_pid=$!
drill --point "$point" >"$STATE/drill2.out" 2>&1 || fail "the drill during a cycle failed: $(cat "$STATE/drill2.out")"
wait "$cycle_pid" || fail "the cycle during a drill failed: $(tail -n 20 "$STATE/cycle3.out")"
cycle_pid=""
note "   $(tail -n 1 "$STATE/drill2.out"); $(grep -m1 -i 'success\|outcome' "$STATE/cycle3.out" || true)"

note "3. a broken point: a sampled shard of one of its images moved off s1's brick"
manifest=$(newest_manifest)
point=$(basename "$manifest" .json)
# An image of the point whose second sampled range (at stride + offset)
# lies in a shard of its own (.1): "VM PATH".
read -r broken_vm broken_path < <(python3 -c 'import json,sys
m = json.load(open(sys.argv[1]))
for vm in m["vms"]:
    for d in vm["disks"]:
        for i in ([d["delta"]] if d.get("delta") else []) + [d]:
            s = i["sample"]
            if s["stride"] == 4 << 20 and i["actualSize"] > s["stride"] + s.get("offset", 0) + s["length"]:
                print(vm["name"], i["path"]); sys.exit(0)
sys.exit(1)' "$manifest") || fail "no image of point $point reaches its second shard: nothing to break (guests not writing?)"
gfid=$(getfattr -n trusted.gfid -e hex "$GDR_SITES_S1_BRICK/$broken_path" 2>/dev/null | sed -n 's/^trusted.gfid=0x//p')
[ -n "$gfid" ] || fail "no gfid for $broken_path on s1's brick"
gfid="${gfid:0:8}-${gfid:8:4}-${gfid:12:4}-${gfid:16:4}-${gfid:20:12}"
shard="$GDR_SITES_S1_BRICK/.shard/$gfid.1"
[ -f "$shard" ] || fail "no shard 1 of $broken_path ($shard)"
aside="$GDR_SITES_DIR/hosts/s1/shard-aside"
mv "$shard" "$aside"
note "   shard 1 of $broken_path ($broken_vm) moved aside"
if drill --point "$point" >"$STATE/drill3.out" 2>&1; then
  fail "the drill of a broken point passed: $(cat "$STATE/drill3.out")"
fi
grep -q "^$broken_vm .*failed.*does not match" "$STATE/drill3.out" ||
  fail "the drill did not name $broken_vm as failed: $(cat "$STATE/drill3.out")"
grep -q 'drill FAILED' "$STATE/drill3.out" || fail "the drill did not say it failed: $(cat "$STATE/drill3.out")"
[ "$(copies_on_s1)" = 0 ] || fail "a drill copy still runs on s1 after the failed drill"
mv "$aside" "$shard"
aside=""
note "   $(grep "^$broken_vm " "$STATE/drill3.out")"
# The drills are kept beside the cycles: history lists the three.
kinds=$("$BIN/gdr-sync" history --state-dir "$STATE/drill" --json | json_get '" ".join(r["kind"] + ":" + r["status"] for r in d)')
[ "$kinds" = "drill:success drill:success drill:failed" ] || fail "history does not list the drills: $kinds"
note "drill: ok"
