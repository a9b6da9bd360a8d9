#!/bin/bash
# The failback's protection half on the two-site lab (scripts/lab-sites),
# after the failover test: the VMs run at s1 and the primary site is dead.
#  1. The primary site comes back (lab-sites revive-site primary): its old
#     volume stale, an empty gdr-failback beside it, no guest started. Its
#     old session cannot reach s1 (the failover fenced the keys).
#  2. gdr-sync setup from s1's agent to p1's: the session
#     gdr-secondary -> p1::gdr-failback, gdr-failback read-only.
#  3. A cycle in that direction, the guests writing at s1: it succeeds,
#     and its point on gdr-failback is complete, every VM's disk read back
#     at the primary site a consistent prefix.
# (A second cycle's commit of the failover's overlay into the base is
# refused by libvirt today: that overlay names its backing by absolute
# path. The planned switch back is not built yet.)
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
note "failback protection: ok"
