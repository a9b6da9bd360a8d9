#!/bin/bash
# A failback on the two-site lab (scripts/lab-sites), after the failover
# test: the VMs run at s1 and the primary site is dead.
#  1. The primary site comes back (lab-sites revive-site primary): its old
#     volume stale, an empty gdr-failback beside it, no guest started. Its
#     old session cannot reach s1 (the failover fenced the keys).
#  2. VM.destroy refuses a VM still running (the failback powers the
#     copies at s1 off once they are paused, never before).
#  3. gdr-sync failback from s1: the reverse session gdr-secondary ->
#     p1::gdr-failback set up, a catch-up cycle with the guests writing
#     (its point on gdr-failback complete, every VM's disk read back at p1
#     a consistent prefix), every VM paused, a last cycle, a failover at p1
#     from its point, the copies at s1 powered off, the original direction
#     restored. Every VM runs at p1, its disk holding every record the
#     paused guest had written at s1: nothing lost.
#  4. The original direction: gdr-failback -> s1::gdr-secondary, the
#     reverse session and the one the disaster stopped gone, gdr-secondary
#     read-only again; a normal cycle from p1 succeeds and its point checks
#     out at s1.
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

note "2. VM.destroy refuses a VM still running"
s1_client() { "$BIN/gdr-client" -s "$GDR_SITES_S1_SOCKET" "$@"; }
vm_id() { "$SITES" on s1 virsh -c qemu:///system domuuid "$1" | head -n 1; }
first=$(vm_names | head -n 1)
if s1_client VM destroy vmID="$(vm_id "$first")" >"$STATE/destroy.out" 2>&1; then
  fail "VM.destroy powered off $first while it ran: $(cat "$STATE/destroy.out")"
fi
grep -q 1107 "$STATE/destroy.out" || fail "VM.destroy of a running VM did not say 1107: $(cat "$STATE/destroy.out")"
[ "$(domstate s1 "$first")" = running ] || fail "the refused VM.destroy stopped $first"

note "3. gdr-sync failback from s1: $GDR_SITES_SECONDARY -> $TARGET, then home"
# Each VM's console log, where the failover at s1 put it: somewhere at p1 too.
mkdir -p "$STATE/consoles"
for name in $(vm_names); do
  "$SITES" on s1 virsh -c qemu:///system dumpxml "$name" | grep -o "[^'\"]*/$name\.console" | head -n 1 | xargs -r dirname
done | sort -u | python3 -c 'import json, sys
print(json.dumps({"paths": {line.strip() + "/": sys.argv[1] + "/" for line in sys.stdin if line.strip()}}))' \
  "$STATE/consoles" >"$STATE/mapping.json"
sync_back failback --hosts "$GDR_SITES_SECONDARY_AGENT" --volume "$GDR_SITES_SECONDARY" --secondary "$TARGET" \
  --secondary-agent "$P1_AGENT" --mapping "$STATE/mapping.json" --state-dir "$STATE/sync" --timeout 5m \
  >"$STATE/failback.out" 2>&1 || fail "the failback failed: $(tail -n 40 "$STATE/failback.out")"
sed 's/^/   /' "$STATE/failback.out" >&2
# The reverse session's secondary was read-only while it received (the
# switch makes it writable on purpose): the set-up's step said so once done.
grep -q "protect: features.read-only on for $GDR_SITES_FAILBACK " "$STATE/failback.out" ||
  fail "the reverse set-up did not make $GDR_SITES_FAILBACK read-only: $(cat "$STATE/failback.out")"
report=$(cat "$STATE/sync/failback.json")
[ "$(json_get 'd["stage"]' <<<"$report")" = DONE ] || fail "the failback is not done: $report"
note "   window $(json_get '"%.1f" % d["windowSeconds"]' <<<"$report") s (failover $(json_get '"%.1f" % d["rtoSeconds"]' <<<"$report") s); stages $(json_get '" ".join("%s %.1f" % kv for kv in d["stageSeconds"].items())' <<<"$report")"
[ "$(json_get 'len(d["vms"])' <<<"$report")" = "$(vm_names | wc -l)" ] || fail "the failback did not take every VM: $report"
sync_back history --state-dir "$STATE/sync" >"$STATE/history.out" 2>&1 || fail "history failed: $(cat "$STATE/history.out")"
grep -qE ' failback .* success ' "$STATE/history.out" || fail "history lists no successful failback: $(cat "$STATE/history.out")"
catch_up=$(json_get 'd["catchUpPoint"]' <<<"$report")
last=$(json_get 'd["lastPoint"]' <<<"$report")
"$SITES" check-point "$catch_up" p1 "$GDR_SITES_FAILBACK" >"$STATE/check.out" ||
  fail "the catch-up point $catch_up on $GDR_SITES_FAILBACK does not check out: $(cat "$STATE/check.out")"
for name in $(vm_names); do
  records=$(awk -v n="$name" '$1 == n && $2 == "vda" { $1 = $2 = ""; print }' "$STATE/check.out" | json_get 'd["records"]')
  [ "${records:-0}" -gt 0 ] || fail "$name is not in point $catch_up on $GDR_SITES_FAILBACK: $(cat "$STATE/check.out")"
  note "   $name: $records records at the primary site after the catch-up, consistent"
done
# What the guests had written at s1, all of it in the last point: they were paused before it.
"$SITES" check-point "$last" >"$STATE/at-s1.check" || fail "point $last does not check out at s1: $(cat "$STATE/at-s1.check")"
[ "$("$SITES" on s1 virsh -c qemu:///system list --name | grep -c .)" = 0 ] || fail "a VM still runs at s1"
mount=$(json_get 'd["switch"]["mountPoint"]' <<<"$report")
for name in $(vm_names); do
  [ "$(domstate p1 "$name")" = running ] || fail "$name does not run at p1"
  overlay=$(json_get '[x["overlay"] for v in d["switch"]["vms"] if v["name"] == "'"$name"'" for x in v["disks"] if x["drive"] == "vda"][0]' <<<"$report")
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

note "4. the original direction: $GDR_SITES_FAILBACK -> $GDR_SITES_SECONDARY_URL"
sessions() { # sessions SOCKET: "VOLUME -> HOST::VOLUME" of each session there
  "$BIN/gdr-client" -s "$1" GlusterVolume geoRepSessionList |
    json_get '"\n".join(s["volumeName"] + " -> " + s["remoteHost"] + "::" + s["remoteVolumeName"] for s in d["sessions"])'
}
sessions "$GDR_SITES_P1_SOCKET" >"$STATE/p1.sessions"
sessions "$GDR_SITES_S1_SOCKET" >"$STATE/s1.sessions"
grep -q "^$GDR_SITES_FAILBACK -> .*::$GDR_SITES_SECONDARY\$" "$STATE/p1.sessions" ||
  fail "no session $GDR_SITES_FAILBACK -> $GDR_SITES_SECONDARY at p1: $(cat "$STATE/p1.sessions")"
if grep -q "^$GDR_SITES_PRIMARY " "$STATE/p1.sessions"; then
  fail "the session the disaster stopped is still there: $(cat "$STATE/p1.sessions")"
fi
! grep -q . "$STATE/s1.sessions" || fail "s1 still has a session: $(cat "$STATE/s1.sessions")"
[ "$(volume_option s1 "$GDR_SITES_SECONDARY" features.read-only)" = on ] ||
  fail "$GDR_SITES_SECONDARY is writable by any client after the failback"
# shellcheck disable=SC2086
"$SITES" on p1 "$BIN/gdr-sync" --hosts "$P1_AGENT" --volume "$GDR_SITES_FAILBACK" --secondary "$GDR_SITES_SECONDARY_URL" \
  $GDR_SITES_TLS --state-dir "$STATE/home" --timeout 5m --json >"$STATE/home.json" 2>"$STATE/home.err" ||
  fail "the first cycle in the original direction failed: $(json_get 'd.get("alert", d["status"])' <"$STATE/home.json" 2>&1)" \
    "$(tail -n 20 "$STATE/home.err")"
note "   $(json_get '"%s in %.1f s, %d VMs; " % (d["status"], d["duration"], len(d["vms"])) + " ".join("%s %.1f" % (s["step"], s["duration"]) for s in d["steps"])' <"$STATE/home.json")"
home=$(json_get 'd["point"]["id"]' <"$STATE/home.json")
"$SITES" check-point "$home" >"$STATE/home.check" || fail "point $home does not check out at s1: $(cat "$STATE/home.check")"
for name in $(vm_names); do
  records=$(awk -v n="$name" '$1 == n && $2 == "vda" { $1 = $2 = ""; print }' "$STATE/home.check" | json_get 'd["records"]')
  at_s1=$(awk -v n="$name" '$1 == n && $2 == "vda" { $1 = $2 = ""; print }' "$STATE/at-s1.check" | json_get 'd["records"]')
  [ "${records:-0}" -ge "$at_s1" ] || fail "$name's disk in point $home at s1 holds $records records, fewer than $at_s1"
  note "   $name: $records records in point $home at s1, consistent"
done
note "failback: ok"
