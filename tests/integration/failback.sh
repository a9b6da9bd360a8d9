#!/bin/bash
# A failback on the two-site lab (scripts/lab-sites), after the failover
# test: the VMs run at s1 and the primary site is dead.
#  1. The primary site comes back (lab-sites revive-site primary): its old
#     volume stale, an empty gdr-failback beside it, no guest started. Its
#     old session cannot reach s1 (the failover fenced the keys).
#  2. gdr-sync setup from s1's agent to p1's: the session
#     gdr-secondary -> p1::gdr-failback, gdr-failback read-only.
#  3. A cycle in that direction, the guests writing at s1: it succeeds,
#     and its point on gdr-failback is complete, every VM's disk read back
#     at the primary site a consistent prefix.
#  4. The switch back, by hand with gdr's pieces (gdr-sync does not chain
#     them yet): VM.destroy refuses a VM still running; every VM paused at
#     s1 (VM.pause), a last cycle, gdr-sync failover --force at p1 from its
#     point, the copies at s1 powered off (VM.destroy). Every VM runs at
#     p1, its disk holding every record the paused guest had written at
#     s1: nothing lost.
source "$(dirname "$0")/lib.sh"
require_sites env # the primary site is down: what this test needs, it checks
STATE=$(mktemp -d /tmp/gdr-failback-XXXXXX)
trap 'rm -rf "$STATE"' EXIT

P1_AGENT="https://$GDR_SITES_P1_ADDRESS:54321"
TARGET="$GDR_SITES_P1_ADDRESS::$GDR_SITES_FAILBACK"
vm_names() { tr ',' '\n' <<<"$GDR_SITES_VMS" | cut -d@ -f1; }
running_on_s1() { "$SITES" on s1 virsh -c qemu:///system list --name | grep -c . || true; }
sync_back() { # sync_back ARGS...: gdr-sync on s1, its VMs the protected ones
  # shellcheck disable=SC2086
  "$SITES" on s1 "$BIN/gdr-sync" "$@" $GDR_SITES_TLS
}

[ "$(running_on_s1)" = "$(vm_names | wc -l)" ] ||
  fail "the failover test leaves every VM running at s1; $(running_on_s1) run there"

note "1. the primary site comes back: its volume stale, $GDR_SITES_FAILBACK empty"
"$SITES" revive-site primary 2>&1 | tail -n 1 | sed 's/^/   /' >&2
if grep -q 'command=.*gsyncd' "$GDR_SITES_DIR/hosts/s1/ssh/authorized_keys" 2>/dev/null; then
  fail "s1 lets the old session in again"
fi

note "2. gdr-sync setup, from s1 to p1: $GDR_SITES_SECONDARY -> $TARGET"
sync_back setup --hosts "$GDR_SITES_SECONDARY_AGENT" --volume "$GDR_SITES_SECONDARY" --secondary "$TARGET" \
  --secondary-agent "$P1_AGENT" >"$STATE/setup.out" 2>&1 || fail "the set-up failed: $(cat "$STATE/setup.out")"
sed 's/^/   /' "$STATE/setup.out" >&2
"$SITES" on p1 gluster --mode=script volume get "$GDR_SITES_FAILBACK" features.read-only | grep -qw on ||
  fail "$GDR_SITES_FAILBACK is writable by any client after the set-up"

note "3. a cycle from s1, the guests writing there"
sync_back --hosts "$GDR_SITES_SECONDARY_AGENT" --volume "$GDR_SITES_SECONDARY" --secondary "$TARGET" \
  --state-dir "$STATE/sync" --timeout 5m --json >"$STATE/cycle.json" 2>"$STATE/cycle.err" ||
  fail "the cycle from s1 failed: $(json_get 'd.get("alert", d["status"])' <"$STATE/cycle.json" 2>&1)" \
    "$(tail -n 20 "$STATE/cycle.err")"
note "   $(json_get '"%s in %.1f s, %d VMs; " % (d["status"], d["duration"], len(d["vms"])) + " ".join("%s %.1f" % (s["step"], s["duration"]) for s in d["steps"])' <"$STATE/cycle.json")"
[ "$(json_get 'len(d["vms"])' <"$STATE/cycle.json")" = "$(vm_names | wc -l)" ] ||
  fail "the cycle did not protect every VM: $(cat "$STATE/cycle.json")"
point=$(json_get 'd["point"]["id"]' <"$STATE/cycle.json")
sync_back points --hosts "$GDR_SITES_SECONDARY_AGENT" --secondary "$TARGET" >"$STATE/points.out" 2>&1 ||
  fail "no complete point on $TARGET: $(cat "$STATE/points.out")"
grep -qE "^$point .* complete " "$STATE/points.out" || fail "point $point is not complete: $(cat "$STATE/points.out")"
"$SITES" check-point "$point" p1 "$GDR_SITES_FAILBACK" >"$STATE/check.out" ||
  fail "point $point on $GDR_SITES_FAILBACK does not check out: $(cat "$STATE/check.out")"
for name in $(vm_names); do
  records=$(awk -v n="$name" '$1 == n && $2 == "vda" { $1 = $2 = ""; print }' "$STATE/check.out" | json_get 'd["records"]')
  [ "${records:-0}" -gt 0 ] || fail "$name is not in point $point on $GDR_SITES_FAILBACK: $(cat "$STATE/check.out")"
  note "   $name: $records records at the primary site, consistent"
done

note "4. the switch back: VMs paused at s1, a last cycle, a failover at p1, the copies at s1 off"
s1_client() { "$BIN/gdr-client" -s "$GDR_SITES_S1_SOCKET" "$@"; }
vm_id() { "$SITES" on s1 virsh -c qemu:///system domuuid "$1" | head -n 1; }
first=$(vm_names | head -n 1)
if s1_client VM destroy vmID="$(vm_id "$first")" >"$STATE/destroy.out" 2>&1; then
  fail "VM.destroy powered off $first while it ran: $(cat "$STATE/destroy.out")"
fi
grep -q 1107 "$STATE/destroy.out" || fail "VM.destroy of a running VM did not say 1107: $(cat "$STATE/destroy.out")"
"$SITES" on s1 virsh -c qemu:///system domstate "$first" | grep -q running || fail "the refused VM.destroy stopped $first"
mkdir -p "$STATE/consoles"
: >"$STATE/console-dirs"
for name in $(vm_names); do
  s1_client VM pause vmID="$(vm_id "$name")" | json_get 'd["state"]' | grep -qx paused || fail "$name did not pause"
  # Its console log, where the failover at s1 put it: somewhere at p1 too.
  "$SITES" on s1 virsh -c qemu:///system dumpxml "$name" | grep -o "[^'\"]*/$name\.console" | head -n 1 |
    xargs -r dirname >>"$STATE/console-dirs"
done
sort -u "$STATE/console-dirs" | python3 -c 'import json, sys
print(json.dumps({"paths": {line.strip() + "/": sys.argv[1] + "/" for line in sys.stdin if line.strip()}}))' \
  "$STATE/consoles" >"$STATE/mapping.json"
sync_back --hosts "$GDR_SITES_SECONDARY_AGENT" --volume "$GDR_SITES_SECONDARY" --secondary "$TARGET" \
  --state-dir "$STATE/sync" --timeout 5m --json >"$STATE/last.json" 2>"$STATE/last.err" ||
  fail "the last cycle failed: $(json_get 'd.get("alert", d["status"])' <"$STATE/last.json" 2>&1)" \
    "$(tail -n 20 "$STATE/last.err")"
last=$(json_get 'd["point"]["id"]' <"$STATE/last.json")
note "   the last cycle: point $last in $(json_get '"%.1f" % d["duration"]' <"$STATE/last.json") s"
# What the guests had written at s1, all of it in the last point: they were paused before it.
"$SITES" check-point "$last" >"$STATE/at-s1.check" || fail "point $last does not check out at s1: $(cat "$STATE/at-s1.check")"
# shellcheck disable=SC2086
"$SITES" on p1 "$BIN/gdr-sync" failover --hosts "$GDR_SITES_SECONDARY_AGENT" --force --secondary "$TARGET" \
  --secondary-agent "$P1_AGENT" --point "$last" --mapping "$STATE/mapping.json" $GDR_SITES_TLS \
  --state-dir "$STATE/failover" --json >"$STATE/back.json" 2>"$STATE/back.err" ||
  fail "the failover at p1 failed: $(cat "$STATE/back.json" "$STATE/back.err")"
report=$(cat "$STATE/back.json")
note "   at p1: RTO $(json_get '"%.1f" % d["rtoSeconds"]' <<<"$report") s; states $(json_get '" ".join("%s %.1f" % kv for kv in d["stateSeconds"].items())' <<<"$report")"
for name in $(vm_names); do
  s1_client VM destroy vmID="$(vm_id "$name")" | json_get 'd["state"]' | grep -qx 'shut off' ||
    fail "$name at s1 was not powered off"
done
[ "$("$SITES" on s1 virsh -c qemu:///system list --name | grep -c .)" = 0 ] || fail "a VM still runs at s1"
mount=$(json_get 'd["mountPoint"]' <<<"$report")
for name in $(vm_names); do
  "$SITES" on p1 virsh -c qemu:///system domstate "$name" | grep -q running || fail "$name does not run at p1"
  overlay=$(json_get '[x["overlay"] for v in d["vms"] if v["name"] == "'"$name"'" for x in v["disks"] if x["drive"] == "vda"][0]' <<<"$report")
  image=$(overlay_image p1 "$mount/.gdr/points/$last.json" "$mount" "$overlay" "$name")
  "$SITES" on p1 virsh -c qemu:///system suspend "$name" >/dev/null
  check=$("$SITES" on p1 python3 "$ROOT/scripts/lab-check-consistency" "$image") ||
    fail "$name's disk at p1 is not consistent: $check"
  "$SITES" on p1 virsh -c qemu:///system resume "$name" >/dev/null
  at_s1=$(awk -v n="$name" '$1 == n && $2 == "vda" { $1 = $2 = ""; print }' "$STATE/at-s1.check" | json_get 'd["records"]')
  at_p1=$(json_get 'd["records"]' <<<"$check")
  [ "$at_p1" -ge "$at_s1" ] || fail "$name lost records: $at_s1 written at s1, $at_p1 at p1"
  note "   $name runs at p1: $at_s1 records written at s1, $at_p1 on its disk at p1, consistent: none lost"
done
note "failback: ok"
