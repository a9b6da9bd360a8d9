#!/bin/bash
# DR cycles in a row on the lab (printed, not asserted): how long each
# takes and where the time goes, how often a sync stalls, fails or has to
# repair the secondary. Each cycle runs gdr-sync with --verify shards (the
# copies checked every time) while the guests write; per cycle it prints
# the duration, the geo-rep step's, the session restarts the sync job made
# (a stall: no progress for its stall limit), how much of the geo-rep step
# went waiting for the bricks to roll past the checkpoint before the session
# was started (wait), and the pieces repaired.
# Then p50/p95/p99/max of the cycle time, each step's median, and counts.
#   bench/soak_bench.sh [CYCLES] [GDR-SYNC OPTION...]   (default 20 cycles)
# e.g. `bench/soak_bench.sh 100 --session stop` for the stopped-session way.
# GDR_SOAK_VMS=N (default 4): the lab's VMs (it grows or shrinks to N, and
# back to 2 at the end). The volumes' performance.strict-write-ordering is
# the lab's (on; see README, "Known limits"): GDR_LAB_STRICT_WRITE_ORDERING=off
# scripts/bench soak runs them without it, until the next `scripts/lab up`.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${GDR_BIN_DIR:-$ROOT/build/bin}
LAB="$ROOT/scripts/lab"
cycles=${1:-20}
[ $# -gt 0 ] && shift
vms=${GDR_SOAK_VMS:-4}
extra=("$@")
[[ " ${extra[*]} " == *" --verify "* ]] || extra+=(--verify shards)
"$LAB" up --vms "$vms" >/dev/null
eval "$("$LAB" env)"
ordering=$(gluster --mode=script volume get "$GDR_LAB_PRIMARY" performance.strict-write-ordering |
  awk '$1 == "performance.strict-write-ordering" {print $2}')
dir=$(mktemp -d /tmp/gdr-soak-bench-XXXXXX)
"$BIN/gdr-agent" --config /dev/null --listen "unix:$dir/agent.sock" --state-dir "$dir/state" \
  --log-file "$dir/agent.log" ${GDR_LAB_EVENTS_LISTEN:+--events-listen "$GDR_LAB_EVENTS_LISTEN"} &
agent=$!
cleanup() {
  # Only between cycles: gdr-sync needs the agent to merge the VMs back.
  # The delta layout's chains stay (the next soak or cycle goes on from
  # them); the lab keeps its two VMs.
  kill "$agent" 2>/dev/null || true
  wait "$agent" 2>/dev/null || true
  [ "$vms" -le 2 ] || "$LAB" shrink --vms 2 >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap cleanup EXIT
sleep 0.5

echo "$cycles DR cycles, $vms VMs, gdr-sync ${extra[*]}, performance.strict-write-ordering $ordering"
printf '%-6s %8s %8s %8s %9s  %-8s %s\n' cycle seconds geo-rep wait restarts outcome "pieces repaired"
for ((c = 1; c <= cycles; c++)); do
  rc=0
  "$BIN/gdr-sync" --hosts "unix:$dir/agent.sock" --volume "$GDR_LAB_PRIMARY" \
    --secondary "$GDR_LAB_SECONDARY_URL" --state-dir "$dir/sync" --json "${extra[@]}" >"$dir/report.json" || rc=$?
  python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
steps = d.get("steps", [])
verify = [s for s in steps if s["step"] == "verify"]
pieces = sum(len(v) for v in (verify[0].get("differedAt", {}).values() if verify else []))
repaired = any(s["step"] == "verify-repair" and s.get("repaired") for s in steps)
georep = sum(s["duration"] for s in steps if s["step"] in ("georep", "georep-repair"))
restarts = sum(s.get("sessionRestarts", 0) for s in steps if s["step"] in ("georep", "georep-repair"))
# How long the sync waited for the bricks to roll past the checkpoint
# before it started the session (--georep-start after-rollover).
wait = sum(s.get("rolloverWaited", 0) for s in steps if s["step"] in ("georep", "georep-repair")) / 1000
print("%-6s %8.1f %8.1f %8.1f %9d  %-8s %s" % (sys.argv[2], d["duration"], georep, wait, restarts, d["status"],
                                               pieces if repaired else 0))
if d["status"] != "success":
    print("  alert:", d.get("alert"))
line = {"duration": d["duration"], "status": d["status"], "restarts": restarts, "startWait": wait,
        "repaired": pieces if repaired else 0,
        "steps": {s["step"]: s["duration"] for s in steps}}
with open(sys.argv[3], "a") as f:
    f.write(json.dumps(line) + "\n")' "$dir/report.json" "$c" "$dir/cycles.jsonl"
  [ "$rc" -le 1 ] || { echo "gdr-sync exited $rc: a VM may be left on an overlay" >&2; exit 1; }
done
python3 -c '
import json, statistics, sys
cycles = [json.loads(l) for l in open(sys.argv[1])]
def pct(values, p):  # nearest rank
    values = sorted(values)
    return values[max(0, min(len(values) - 1, -(-len(values) * p // 100) - 1))]
times = [c["duration"] for c in cycles]
print("cycle seconds: p50 %.1f  p95 %.1f  p99 %.1f  max %.1f" % tuple(pct(times, p) for p in (50, 95, 99, 100)))
names = []
for c in cycles:
    names += [n for n in c["steps"] if n not in names]
print("start wait median (s): %.2f" % statistics.median(c.get("startWait", 0) for c in cycles))
print("step medians (s): " + ", ".join("%s %.2f" % (n, statistics.median(c["steps"][n] for c in cycles if n in c["steps"]))
                                      for n in names))
print("cycles: %d, failed: %d, stalls (session restarted): %d, repaired within the cycle: %d (%d pieces)" % (
    len(cycles), sum(c["status"] != "success" for c in cycles), sum(c["restarts"] > 0 for c in cycles),
    sum(c["repaired"] > 0 for c in cycles), sum(c["repaired"] for c in cycles)))' "$dir/cycles.jsonl"
