#!/bin/bash
# No single host is needed for the schedule (scripts/lab-sites): the
# domain's state dir is on gluster's shared storage, and every primary
# host runs gdr-sync --if-due, as its gdr-sync@.timer would.
#  1. p1's gdr-sync runs a cycle. While it holds the domain, p2's and p3's
#     leave the interval to it (exit 0, naming the holder's pid) and change
#     nothing; without --if-due, p2's is refused (exit 3). p1's cycle
#     succeeds.
#  2. p1 dies mid-cycle, its VMs on their overlays: its shared-storage
#     client is killed -9 first (the bricks drop the lock with its
#     connection, as when a host stops answering), then its gdr-sync. The
#     next timer, on p2, takes the domain, finishes p1's cycle from the
#     journal beside the lock (every VM merged back on its own host) and
#     runs its own cycle: success, no overlay left.
source "$(dirname "$0")/lib.sh"
require_sites
DOMAIN_DIR=$GDR_SITES_SHARED_STORAGE/gdr/sites-schedule-$$
STATE=$(mktemp -d /tmp/gdr-schedule-XXXXXX)
cycle_pid=""

# On the way out: a cycle still running stopped (by its pid), p1's shared
# storage mounted again, and a cycle this test left unfinished finished by
# one more run (its journal names VMs still on their overlays) before the
# domain's state goes.
cleanup() {
  if [ -n "$cycle_pid" ]; then kill "$cycle_pid" 2>/dev/null || true; wait "$cycle_pid" 2>/dev/null || true; fi
  "$SITES" start-shared-storage p1 >/dev/null 2>&1 || true
  if "$SITES" on p2 test -e "$DOMAIN_DIR/cycle-journal.json" 2>/dev/null; then
    sync_on p2 >/dev/null 2>&1 || true
  fi
  "$SITES" on p2 rm -rf "$DOMAIN_DIR" 2>/dev/null || true
  rm -rf "$STATE"
}
trap cleanup EXIT

# gdr-sync on HOST against the lab's domain, its state dir on the shared
# storage; further arguments follow (--if-due, --json, ...).
sync_on() { # sync_on HOST ARGS...
  local host=$1
  shift
  # shellcheck disable=SC2086
  "$SITES" on "$host" "$BIN/gdr-sync" --hosts "$GDR_SITES_PRIMARY_AGENTS" --volume "$GDR_SITES_PRIMARY" \
    --secondary "$GDR_SITES_SECONDARY_URL" $GDR_SITES_TLS --state-dir "$DOMAIN_DIR" --timeout 5m "$@"
}
# gdr-sync on p1 in the background, its pid (nsenter runs it in place) in
# cycle_pid; its output in $STATE/NAME.json.
start_on_p1() { # start_on_p1 NAME ARGS...
  local name=$1
  shift
  # shellcheck disable=SC2086
  nsenter -t "$(cat "$GDR_SITES_DIR/run/p1/holder.pid")" -n -m -- "$BIN/gdr-sync" --hosts "$GDR_SITES_PRIMARY_AGENTS" \
    --volume "$GDR_SITES_PRIMARY" --secondary "$GDR_SITES_SECONDARY_URL" $GDR_SITES_TLS --state-dir "$DOMAIN_DIR" \
    --timeout 5m --json "$@" >"$STATE/$name.json" 2>"$STATE/$name.err" &
  cycle_pid=$!
}
# The holder's pid as its lock file records it ("host NAME, pid N"), read
# on HOST (p1, the writer's own client: another's may cache the old text).
holder_pid() { "$SITES" on "$1" cat "$DOMAIN_DIR/lock" 2>/dev/null | sed -n 's/.*pid \([0-9]*\).*/\1/p'; }
# The step the domain's cycle journal names (read on p1), if there is one:
# "georep" once every VM is on its new overlay.
journal_step() {
  "$SITES" on p1 cat "$DOMAIN_DIR/cycle-journal.json" 2>/dev/null | json_get 'd["step"]' 2>/dev/null || true
}
# Whether every lab VM runs on the overlay that REPORT (gdr-sync's JSON)
# names for it, read from the VM's definition on its own host: the delta
# layout keeps earlier deltas under it, no other image above them.
on_reported_tops() { # on_reported_tops REPORT
  local entry vm top source
  for entry in ${GDR_SITES_VMS//,/ }; do
    vm=${entry%@*}
    top=$(json_get "[v for v in d['vms'] if v['name'] == '$vm'][0]['disks'][0]['overlay']" <<<"$1")
    [ -n "$top" ] || return 1
    source=$("$SITES" on "${entry#*@}" virsh -c qemu:///system dumpxml "$vm" | grep -m1 '<source file=')
    if [[ "$source" != *"$top"* ]]; then
      echo "$vm on ${entry#*@} runs on $source, the report says $top" >&2
      return 1
    fi
  done
}
# Waits until p1's gdr-sync (cycle_pid) holds the domain, as its lock
# file says, with every VM on its new overlay (its journal at the georep
# step).
wait_holding() {
  local i
  for ((i = 0; i < 900; i++)); do
    kill -0 "$cycle_pid" 2>/dev/null || fail "p1's gdr-sync ended before its VMs were on overlays: $(cat "$STATE"/*)"
    if [ "$(holder_pid p1)" = "$cycle_pid" ] && [ "$(journal_step)" = georep ]; then return; fi
    sleep 0.1
  done
  fail "p1's gdr-sync (pid $cycle_pid) never held the domain with its VMs on overlays"
}

note "1. p1 holds the domain: p2 and p3 leave the interval to it"
start_on_p1 p1 --if-due --interval 30s
wait_holding
holder=$cycle_pid
for host in p2 p3; do
  out=$(sync_on "$host" --if-due --interval 30s) || fail "$host's timer run failed while p1 held the domain: $out"
  [[ "$out" == *"no cycle here: another gdr-sync runs a cycle on $DOMAIN_DIR"*"pid $holder)"* ]] ||
    fail "$host's timer run did not leave the interval to p1's gdr-sync (pid $holder): $out"
done
rc=0
out=$(sync_on p2 2>&1) || rc=$?
[ "$rc" = 3 ] || fail "p2's gdr-sync without --if-due ran (exit $rc) while p1 held the domain: $out"
[[ "$out" == *"pid $holder)"* ]] || fail "the refusal does not name the holder (pid $holder): $out"
wait "$cycle_pid" || fail "p1's cycle failed: $(cat "$STATE/p1.json" "$STATE/p1.err")"
cycle_pid=""
[ "$(json_get 'd["status"]' <"$STATE/p1.json")" = success ] || fail "p1's cycle: $(cat "$STATE/p1.json")"
[ "$("$SITES" on p3 sh -c "ls '$DOMAIN_DIR'/reports/ 2>/dev/null | wc -l")" = 1 ] ||
  fail "the domain's reports, read on p3, are not the one cycle's: $("$SITES" on p3 ls -la "$DOMAIN_DIR" "$DOMAIN_DIR/reports" 2>&1)"
note "p1 ran the cycle (holder pid $holder); p2 and p3 skipped, p2 without --if-due refused"

note "2. p1 dies mid-cycle: p2's next timer finishes its cycle and runs its own"
start_on_p1 p1-killed
wait_holding
"$SITES" stop-shared-storage p1
kill -9 "$cycle_pid" 2>/dev/null || fail "p1's gdr-sync (pid $cycle_pid) was not there to kill"
wait "$cycle_pid" 2>/dev/null || true
cycle_pid=""
killed_flow=$("$SITES" on p2 cat "$DOMAIN_DIR/cycle-journal.json" | json_get 'd["flowId"]') ||
  fail "p1's gdr-sync was killed and left no journal on the shared storage"
report=$(sync_on p2 --if-due --interval 30s --json) || fail "p2's run after p1 died failed: $report"
[ "$(json_get 'd["interrupted"]["flowId"]' <<<"$report")" = "$killed_flow" ] ||
  fail "p1's interrupted cycle $killed_flow is not reported: $report"
vm_count=$(tr ',' '\n' <<<"$GDR_SITES_VMS" | grep -c .)
[ "$(json_get '[s for s in d["steps"] if s["step"] == "adopt"][0]["merged"]' <<<"$report")" = "$vm_count" ] ||
  fail "p1's cycle's overlays were not all merged back: $report"
[ "$(json_get 'd["status"]' <<<"$report")" = success ] || fail "p2's cycle after the adoption: $report"
on_reported_tops "$report" || fail "a VM does not run on the overlay p2's cycle reports for it: $report"
"$SITES" on p2 test ! -e "$DOMAIN_DIR/cycle-journal.json" || fail "the journal outlived p2's complete cycle"
note "p2 adopted $killed_flow ($vm_count VMs merged back) and completed its own cycle"
"$SITES" start-shared-storage p1
"$SITES" status >/dev/null || fail "the lab is not whole after the test: $("$SITES" status)"
note ok
