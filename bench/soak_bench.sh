#!/bin/bash
# DR cycles in a row on the lab (printed, not asserted): how often the
# secondary ends up holding a base's piece under another gfid, and what
# the repair costs. Each cycle runs `gdr-sync --verify shards` while the
# guests write; per cycle it prints the duration, the pieces found foreign
# or missing (repaired within the cycle) and the outcome.
#   bench/soak_bench.sh [CYCLES]   (default 20)
# The volumes' performance.strict-write-ordering is the lab's (on; see
# README, "Known limits"): GDR_LAB_STRICT_WRITE_ORDERING=off scripts/bench
# soak runs them without it, until the next `scripts/lab up`.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${GDR_BIN_DIR:-$ROOT/build/bin}
LAB="$ROOT/scripts/lab"
cycles=${1:-20}
eval "$("$LAB" env)"
ordering=$(gluster --mode=script volume get "$GDR_LAB_PRIMARY" performance.strict-write-ordering |
  awk '$1 == "performance.strict-write-ordering" {print $2}')
dir=$(mktemp -d /tmp/gdr-soak-bench-XXXXXX)
"$BIN/gdr-agent" --config /dev/null --listen "unix:$dir/agent.sock" --state-dir "$dir/state" \
  --log-file "$dir/agent.log" ${GDR_LAB_EVENTS_LISTEN:+--events-listen "$GDR_LAB_EVENTS_LISTEN"} &
agent=$!
cleanup() {
  # Only between cycles: gdr-sync needs the agent to merge the VMs back.
  kill "$agent" 2>/dev/null || true
  wait "$agent" 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT
sleep 0.5

echo "$cycles DR cycles, --verify shards, performance.strict-write-ordering $ordering"
printf '%-6s %9s  %-8s %s\n' cycle seconds outcome "pieces repaired"
failed=0 repaired_cycles=0 repaired_pieces=0
for ((c = 1; c <= cycles; c++)); do
  rc=0
  report=$("$BIN/gdr-sync" --hosts "unix:$dir/agent.sock" --volume "$GDR_LAB_PRIMARY" \
    --secondary "$GDR_LAB_SECONDARY_URL" --state-dir "$dir/sync" --verify shards --layout flat --json) || rc=$?
  read -r seconds outcome pieces < <(python3 -c '
import json, sys
d = json.load(sys.stdin)
verify = [s for s in d["steps"] if s["step"] == "verify"]
pieces = sum(len(v) for v in (verify[0].get("differedAt", {}).values() if verify else []))
repaired = any(s["step"] == "verify-repair" and s.get("repaired") for s in d["steps"])
print("%.1f" % d["duration"], d["status"], pieces if repaired else 0)' <<<"$report")
  printf '%-6s %9s  %-8s %s\n' "$c" "$seconds" "$outcome" "$pieces"
  [ "$rc" = 0 ] || { failed=$((failed + 1)); echo "  alert: $(python3 -c 'import json,sys; print(json.load(sys.stdin).get("alert"))' <<<"$report")"; }
  if [ "$pieces" != 0 ]; then repaired_cycles=$((repaired_cycles + 1)); repaired_pieces=$((repaired_pieces + pieces)); fi
  [ "$rc" -le 1 ] || { echo "gdr-sync exited $rc: a VM may be left on an overlay" >&2; exit 1; }
done
echo "cycles: $cycles, failed: $failed, repaired within the cycle: $repaired_cycles ($repaired_pieces pieces)"
