#!/bin/bash
# A failover on the two-site lab (scripts/lab-sites): the primary site is
# lost mid-sync and gdr-sync failover runs every VM at s1 from the newest
# complete recovery point. It runs last: the primary stays dead.
#  1. Two cycles with the guests writing; a complete point exists.
#     A drill of the second point boots p2's VM from an older one.
#  2. Refused while the primary answers: exit 3, and nothing changed at s1
#     (the secondary still read-only, no VM defined, its authorized_keys
#     as they were).
#  3. A third cycle; once its geo-rep sync runs, every process of p1, p2
#     and p3 is killed -9 (lab-sites kill-site primary).
#  4. gdr-sync failover, its primary check finding no agent: every VM runs
#     at s1, as itself, with an RTO (a VM the newest complete point lacks,
#     its host down that cycle, from the newest older point holding it). The geo-rep keys are out of s1's
#     authorized_keys (kept aside), the secondary is writable, the point's
#     files are unchanged, and the mapping sent the consoles elsewhere.
#  5. Each VM, paused: its disk (the failover's overlay over the point's
#     chain) is a crash-consistent prefix holding at least the point's
#     records, and its guest writes again once resumed.
source "$(dirname "$0")/lib.sh"
require_sites
STATE=$(mktemp -d /tmp/gdr-failover-XXXXXX)
cycle_pid=""

cleanup() {
  if [ -n "$cycle_pid" ]; then kill "$cycle_pid" 2>/dev/null || true; wait "$cycle_pid" 2>/dev/null || true; fi
  rm -rf "$STATE"
}
trap cleanup EXIT

P1_HOLDER="$GDR_SITES_DIR/run/p1/holder.pid"
cycle() { # cycle [OPTION...]: one cycle on p1, in the foreground
  # shellcheck disable=SC2086
  "$SITES" on p1 "$BIN/gdr-sync" --hosts "$GDR_SITES_PRIMARY_AGENTS" --volume "$GDR_SITES_PRIMARY" \
    --secondary "$GDR_SITES_SECONDARY_URL" $GDR_SITES_TLS --state-dir "$STATE/sync" --timeout 5m "$@"
}
failover() { # failover ARGS...: gdr-sync failover on s1, the primary's agents probed
  # shellcheck disable=SC2086
  "$SITES" on s1 "$BIN/gdr-sync" failover --hosts "$GDR_SITES_PRIMARY_AGENTS" \
    --secondary "$GDR_SITES_SECONDARY_URL" --secondary-agent "$GDR_SITES_SECONDARY_AGENT" $GDR_SITES_TLS \
    --state-dir "$STATE/failover" "$@"
}
read_only() { "$SITES" on s1 gluster --mode=script volume get "$GDR_SITES_SECONDARY" features.read-only | awk 'NR > 2 { print $2 }'; }
s1_keys() { cat "$GDR_SITES_DIR/hosts/s1/ssh/authorized_keys" 2>/dev/null || true; }
defined_on_s1() { "$SITES" on s1 virsh -c qemu:///system list --all --name | grep -c . || true; }
vm_names() { tr ',' '\n' <<<"$GDR_SITES_VMS" | cut -d@ -f1; }

note "1. two cycles with the guests writing, p2's agent down for the second"
# After two_sites (p1's bricks killed and back) a cycle's verification may
# fail: the failover needs a complete point, not these cycles' success.
# The second point lacks p2's VM (its host did not answer): the failover
# must take that VM from an older point.
P2_VM=$(tr ',' '\n' <<<"$GDR_SITES_VMS" | awk -F@ '$2 == "p2" { print $1; exit }')
for i in 1 2; do
  if [ "$i" = 2 ]; then "$SITES" stop-agent p2 >/dev/null; fi
  if cycle --json >"$STATE/cycle$i.json" 2>"$STATE/cycle$i.out"; then
    note "   cycle $i: ok"
  else
    note "   cycle $i: $(json_get 'd.get("alert", d["status"])' <"$STATE/cycle$i.json" 2>/dev/null | cut -c1-200)"
    sed 's/^/      /' "$STATE/cycle$i.out" | tail -n 25 >&2
  fi
  if [ "$i" = 2 ]; then "$SITES" start-agent p2 >/dev/null; fi
done
point2=$(json_get 'd.get("point", {}).get("id", "")' <"$STATE/cycle2.json" 2>/dev/null || true)
# shellcheck disable=SC2086
"$SITES" on s1 "$BIN/gdr-sync" points --hosts "$GDR_SITES_SECONDARY_AGENT" --secondary "$GDR_SITES_SECONDARY_URL" \
  $GDR_SITES_TLS >"$STATE/points.out" 2>&1 || fail "no complete recovery point to fail over to: $(cat "$STATE/points.out")"
grep -q 'command=.*gsyncd' <(s1_keys) || fail "s1 holds no geo-replication key before the failover"
# A drill of the partial cycle's point boots p2's VM from an older point,
# as the failover will.
if [ -n "$point2" ] && grep -qE "^$point2 .* complete " "$STATE/points.out"; then
  # shellcheck disable=SC2086
  "$SITES" on s1 "$BIN/gdr-sync" drill --secondary "$GDR_SITES_SECONDARY_URL" --point "$point2" \
    --secondary-agent "$GDR_SITES_SECONDARY_AGENT" $GDR_SITES_TLS --state-dir "$STATE/drill" --json \
    >"$STATE/drill.json" 2>"$STATE/drill.err" ||
    fail "the drill of point $point2 failed: $(cat "$STATE/drill.json" "$STATE/drill.err")"
  [ -s "$STATE/drill.err" ] && note "   the drill said: $(head -c 300 "$STATE/drill.err")"
  drilled=$(json_get '" ".join("%s:%s" % (v["name"], v.get("pointId") or "-") for v in d["vms"])' <"$STATE/drill.json")
  note "   a drill of point $point2 passed: $drilled"
  [ "$(json_get 'len(d["vms"])' <"$STATE/drill.json")" = "$(vm_names | wc -l)" ] ||
    fail "the drill did not boot every VM: $(cat "$STATE/drill.json")"
  grep -q "$P2_VM:2" <<<"$drilled" || fail "the drill did not take $P2_VM from an older point: $drilled"
fi

note "2. a failover while the primary answers is refused"
s1_keys >"$STATE/keys.before"
if failover >"$STATE/refused.out" 2>&1; then fail "a failover with the primary answering went ahead: $(cat "$STATE/refused.out")"; fi
grep -q 'failover refused: the primary site still answers' "$STATE/refused.out" ||
  fail "the refusal does not say why: $(cat "$STATE/refused.out")"
[ "$(read_only)" = on ] || fail "the refused failover changed features.read-only: $(read_only)"
[ "$(defined_on_s1)" = 0 ] || fail "the refused failover defined a VM on s1"
s1_keys | diff "$STATE/keys.before" - >/dev/null || fail "the refused failover changed s1's authorized_keys"
note "   $(grep -m1 refused "$STATE/refused.out" | cut -c1-150)..."

note "3. a third cycle; the primary site killed during its sync"
# shellcheck disable=SC2086
nsenter -t "$(cat "$P1_HOLDER")" -n -m -- "$BIN/gdr-sync" --hosts "$GDR_SITES_PRIMARY_AGENTS" \
  --volume "$GDR_SITES_PRIMARY" --secondary "$GDR_SITES_SECONDARY_URL" $GDR_SITES_TLS --state-dir "$STATE/sync" \
  --timeout 5m >"$STATE/cycle3.out" 2>&1 &
cycle_pid=$!
syncing() {
  local host
  for host in p1 p2 p3; do
    "$BIN/gdr-client" -s "$GDR_SITES_DIR/run/$host/agent.sock" Host getJobs 2>/dev/null |
      json_get 'any(j["type"] == "georep.sync" and j["state"] == "SYNCING" for j in d["jobs"].values())' |
      grep -q True && return 0
  done
  return 1
}
# The manifest waits up to 2 minutes for an image of the primary that
# reads short (seen right after the brick outage of two_sites).
for _ in $(seq 480); do
  syncing && break
  kill -0 "$cycle_pid" 2>/dev/null || break
  sleep 0.5
done
syncing || fail "the third cycle's sync did not begin: $(tail -n 20 "$STATE/cycle3.out")
$(primary_replicas "$(cat "$STATE/cycle3.out")")"
sleep 2 # a little of the sync under way
"$SITES" kill-site primary
wait "$cycle_pid" 2>/dev/null || true
cycle_pid=""
manifests_on_s1() { ls "$GDR_SITES_S1_BRICK"/.gdr/points/*.json | sort; }
note "   killed mid-sync; s1 holds points $(manifests_on_s1 | xargs -n1 basename | sed 's/.json$//' | tr '\n' ' ')"

note "4. failover: the primary's agents do not answer"
mkdir -p "$STATE/consoles"
cat >"$STATE/mapping.json" <<EOF
{"paths": {"$GDR_SITES_DIR/vms/": "$STATE/consoles/"}, "priority": {"$(vm_names | tail -n 1)": 1}}
EOF
failover --mapping "$STATE/mapping.json" --json >"$STATE/failover.json" 2>"$STATE/failover.err" ||
  fail "the failover failed: $(cat "$STATE/failover.json" "$STATE/failover.err")"
report=$(cat "$STATE/failover.json")
point=$(json_get 'd["point"]' <<<"$report")
[ -n "$point" ] || fail "the report names no point: $report"
note "   point $point; RTO $(json_get '"%.1f" % d["rtoSeconds"]' <<<"$report") s; states $(json_get '" ".join("%s %.1f" % kv for kv in d["stateSeconds"].items())' <<<"$report")"
[ "$(json_get 'len(d["vms"])' <<<"$report")" = "$(vm_names | wc -l)" ] || fail "not every VM failed over: $report"
[ "$(json_get 'd["vms"][0]["name"]' <<<"$report")" = "$(vm_names | tail -n 1)" ] ||
  fail "the mapping's priority did not start $(vm_names | tail -n 1) first: $report"
while read -r name result rto; do
  note "   $name $result, RTO $rto s"
  [ "$result" = running ] || fail "$name does not run: $report"
  [ "$(domstate s1 "$name")" = running ] ||
    fail "$name is not running on s1: $("$SITES" on s1 virsh -c qemu:///system domstate --reason "$name" 2>&1);" \
      "QEMU's log: $("$SITES" on s1 tail -n 15 "/var/log/libvirt/qemu/$name.log" 2>&1);" \
      "its console: $(tail -c 400 "$STATE/consoles/$name.console" 2>&1)"
done < <(json_get '"\n".join("%s %s %.1f" % (v["name"], v["result"], v.get("rtoSeconds", -1)) for v in d["vms"])' <<<"$report")
[ "$(read_only)" = off ] || fail "the secondary is still read-only: $(read_only)"
if s1_keys | grep -q 'command=.*gsyncd'; then fail "a geo-replication key is left in s1's authorized_keys"; fi
aside=$(find "$GDR_SITES_DIR/hosts/s1/gdr-state/failovers" -name fenced-authorized_keys | head -n 1)
if [ -z "$aside" ] || ! grep -q 'command=.*gsyncd' "$aside"; then fail "the fenced keys were not kept aside"; fi
# Each VM comes from the failover's point, or, when its host missed that
# cycle (two_sites leaves such points), from the newest older one holding it.
vm_point() { json_get '[v.get("pointId") or d["point"] for v in d["vms"] if v["name"] == "'"$1"'"][0]' <<<"$report"; }
# The points' own images are never written: each VM's still as its manifest says.
for p in $(for name in $(vm_names); do vm_point "$name"; done | sort -u); do
  "$SITES" check-point "$p" >"$STATE/$p.check" || true
done
if [ "$point" = "$point2" ]; then
  [ "$(vm_point "$P2_VM")" != "$point" ] || fail "$P2_VM, not in point $point, was not taken from an older point: $report"
else
  note "   (cycle 2's point ${point2:-none} is not the newest complete one: no VM had to come from an older point)"
fi
for name in $(vm_names); do
  p=$(vm_point "$name")
  [ "$p" = "$point" ] || note "   $name from the older point $p (not in $point: its host missed that cycle)"
  awk -v n="$name" '$1 == n && $2 == "vda" { $1 = $2 = ""; print }' "$STATE/$p.check" | json_get 'd["consistent"]' |
    grep -q True || fail "$name's disk in point $p no longer checks out: $(cat "$STATE/$p.check")"
done

note "5. each VM's disk is the point and what its guest wrote since"
mount=$(json_get 'd.get("mountPoint", "")' <<<"$report")
[ -n "$mount" ] || fail "the report names no mount: $report"
for name in $(vm_names); do
  p=$(vm_point "$name")
  manifest="$GDR_SITES_S1_BRICK/.gdr/points/$p.json"
  before=$(awk -v n="$name" '$1 == n && $2 == "vda" { $1 = $2 = ""; print }' "$STATE/$p.check" | json_get 'd["records"]')
  [ "${before:-0}" -gt 0 ] || fail "point $p holds no record of $name: $(cat "$STATE/$p.check")"
  overlay=$(json_get '[x["overlay"] for v in d["vms"] if v["name"] == "'"$name"'" for x in v["disks"] if x["drive"] == "vda"][0]' <<<"$report")
  image=$(overlay_image s1 "$manifest" "$mount" "$overlay" "$name")
  for _ in $(seq 60); do
    grep -aq 'gdr-guest: wrote' "$STATE/consoles/$name.console" 2>/dev/null && break
    sleep 1
  done
  grep -aq 'gdr-guest: wrote' "$STATE/consoles/$name.console" 2>/dev/null ||
    fail "$name's guest wrote nothing at s1 (console: $(tail -c 300 "$STATE/consoles/$name.console" 2>/dev/null))"
  "$SITES" on s1 virsh -c qemu:///system suspend "$name" >/dev/null
  check=$("$SITES" on s1 python3 "$ROOT/scripts/lab-check-consistency" "$image") ||
    fail "$name's disk at s1 is not consistent: $check"
  "$SITES" on s1 virsh -c qemu:///system resume "$name" >/dev/null
  after=$(json_get 'd["records"]' <<<"$check")
  [ "$after" -ge "$before" ] || fail "$name's disk holds $after records, fewer than the point's $before"
  note "   $name: the point held $before records; its disk at s1 holds $after, consistent; $(grep -ao 'gdr-guest: wrote [0-9]*' "$STATE/consoles/$name.console" | tail -n 1)"
done
note "failover: ok"
