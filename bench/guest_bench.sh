#!/bin/bash
# What a DR cycle costs the guests it runs through (printed, not asserted).
# Measuring guests (bench/guest_meter.c: O_DIRECT 4 KiB writes as fast as
# the disk allows, a latency histogram a second on the console) run beside
# the lab's two VMs: first alone for a baseline, then through cycles back
# to back, for each gdr-sync variant. For each VM count and variant it
# prints the guests' write throughput and latency (p50/p99/max) in the
# baseline and during the cycles, the longest write stall around the
# snapshot, around the pivot (the flat layout's merges end with one; the
# delta layout's commit has none) and anywhere else, the throughput during
# the merge as a fraction of the baseline, and how often libvirt showed a
# guest not running (sampled once a second).
#   bench/guest_bench.sh [CYCLES [VARIANT...]]    (default 3 cycles)
# A VARIANT is gdr-sync's options, quoted as one word; by default
# "--layout delta", "--layout flat" and "--layout flat --merge-bandwidth 20".
# GDR_GUEST_VMS (default "1 4"): the measuring VM counts;
# GDR_GUEST_BASELINE (default 20): the baseline's seconds.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${GDR_BIN_DIR:-$ROOT/build/bin}
LAB="$ROOT/scripts/lab"
REPORT="$ROOT/bench/guest_meter_report.py"
cycles=${1:-3}
[ $# -gt 0 ] && shift
variants=("$@")
[ ${#variants[@]} -gt 0 ] || variants=("--layout delta" "--layout flat" "--layout flat --merge-bandwidth 20")
baseline=${GDR_GUEST_BASELINE:-20}
"$LAB" up >/dev/null
eval "$("$LAB" env)"
dir=$(mktemp -d /tmp/gdr-guest-bench-XXXXXX)
"$BIN/gdr-agent" --config /dev/null --listen "unix:$dir/agent.sock" --state-dir "$dir/state" \
  --log-file "$dir/agent.log" ${GDR_LAB_EVENTS_LISTEN:+--events-listen "$GDR_LAB_EVENTS_LISTEN"} &
agent=$!
recorders=()
stop_recorders() {
  local pid
  for pid in "${recorders[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  recorders=()
}
cleanup() {
  stop_recorders
  kill "$agent" 2>/dev/null || true
  wait "$agent" 2>/dev/null || true
  "$LAB" shrink --vms 2 >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap cleanup EXIT
sleep 0.5

for count in ${GDR_GUEST_VMS:-1 4}; do
  "$LAB" shrink --vms 2 >/dev/null
  GDR_LAB_DISK_SIZE=512M "$LAB" up --vms $((count + 2)) --writer meter >/dev/null
  meters=()
  for ((i = 3; i <= count + 2; i++)); do meters+=("gdr-lab-vm$i"); done
  run=$dir/run$count
  mkdir -p "$run"
  for vm in "${meters[@]}"; do
    python3 "$REPORT" follow "$GDR_LAB_DIR/vms/$vm.console" "$run/$vm.lines" &
    recorders+=($!)
  done
  python3 "$REPORT" states "$run/states" gdr-lab-vm1 gdr-lab-vm2 "${meters[@]}" &
  recorders+=($!)
  sleep 3
  base_from=$(date +%s.%N)
  sleep "$baseline"
  base_to=$(date +%s.%N)
  echo "$base_from $base_to" >"$run/baseline"
  v=0
  for variant in "${variants[@]}"; do
    v=$((v + 1))
    for ((c = 1; c <= cycles; c++)); do
      # shellcheck disable=SC2086
      "$BIN/gdr-sync" --hosts "unix:$dir/agent.sock" --volume "$GDR_LAB_PRIMARY" \
        --secondary "$GDR_LAB_SECONDARY_URL" --state-dir "$dir/sync" --timeout 10m --json $variant \
        >"$run/v$v-c$c.json" 2>"$run/v$v-c$c.log" || echo "  (a cycle failed: $(tail -n 3 "$run/v$v-c$c.log"))" >&2
    done
    # A flat cycle leaves each VM on one image; delta chains stay for the next.
  done
  sleep 2
  stop_recorders
  cp "$dir/agent.log" "$run/agent.log"
  python3 - "$run" "$count" "$cycles" "$REPORT" "${variants[@]}" <<'EOF'
import datetime, glob, importlib.util, json, os, re, sys
run, count, cycles, report_path, variants = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5:]
spec = importlib.util.spec_from_file_location("report", report_path)
report = importlib.util.module_from_spec(spec)
spec.loader.exec_module(report)
meters = report.read_meters(run)
states = report.read_states(run + "/states")
base_from, base_to = map(float, open(run + "/baseline").read().split())
base = report.summarize(meters, states, base_from, base_to)
base_rate = sum(v["mibPerSecond"] for v in base["vms"].values()) / max(1, len(base["vms"]))

# The agent's state changes: a merge's PIVOT, from entering it to leaving it.
pivots = []
entered = {}
for line in open(run + "/agent.log", errors="replace"):
    m = re.match(r"(\S+ \S+) \S+ \[\d+\] job (\S+) \(vm\.merge\): (\S+) -> (\S+)", line)
    if not m:
        continue
    t = datetime.datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S.%f").timestamp()
    if m.group(4) == "PIVOT":
        entered[m.group(2)] = t
    elif m.group(3) == "PIVOT" and m.group(2) in entered:
        pivots.append((entered.pop(m.group(2)), t))

def latency(summary):
    vms = summary["vms"].values()
    return "p50 <%d us, p99 <%d us, max %.1f ms" % (
        max((v["latencyUs"]["p50"] for v in vms), default=0), max((v["latencyUs"]["p99"] for v in vms), default=0),
        max((v["latencyUs"]["max"] for v in vms), default=0) / 1000)

print("%d measuring VM%s (with the lab's 2 record writers), %d cycles per variant" % (count, "s" if count > 1 else "", cycles))
print("  baseline %.0f s: %.2f MiB/s per VM; write latency %s; longest stall %.3f s" % (
    base_to - base_from, base_rate, latency(base), base["stallSeconds"]))
for v, variant in enumerate(variants, 1):
    stall = {"snapshot": 0.0, "pivot": 0.0, "elsewhere": 0.0, "cycle": 0.0}
    merge_mib = merge_secs = 0.0
    durations, failed, samples, not_running, pivoted = [], 0, 0, set(), 0
    histogram, slowest = [0] * report.BUCKETS, 0
    for path in sorted(glob.glob("%s/v%d-c*.json" % (run, v))):
        try:
            r = json.load(open(path))
        except ValueError:
            failed += 1
            continue
        if r.get("status") != "success":
            failed += 1
        steps = {s["step"]: (s["startTime"], s["startTime"] + s.get("duration", 0)) for s in r.get("steps", []) if "startTime" in s}
        if not steps:
            continue
        start = min(a for a, _ in steps.values())
        end = max(b for _, b in steps.values())
        durations.append(end - start)
        whole = report.summarize(meters, states, start, end)
        samples += whole["stateSamples"]
        stall["cycle"] = max(stall["cycle"], whole["stallSeconds"])
        not_running |= set(whole["notRunning"])
        near = []
        if "snapshot" in steps:
            a, b = steps["snapshot"]
            near.append(("snapshot", a - 0.5, b + 0.5))
        cycle_pivots = [("pivot", a - 0.5, b + 0.5) for a, b in pivots if start <= a <= end]
        pivoted += len(cycle_pivots)
        near += cycle_pivots
        for rows in meters.values():
            for _, f in report.in_window(rows, start, end):
                histogram = [x + y for x, y in zip(histogram, f["histogram"])]
                slowest = max(slowest, f["max_us"])
        for name, a, b in near:
            stall[name] = max(stall[name], report.summarize(meters, states, a, b)["stallSeconds"])
        # Elsewhere: the whole cycle's seconds outside those windows.
        for vm, rows in meters.items():
            for t, f in report.in_window(rows, start, end):
                if not any(t > a and t - 1 < b for _, a, b in near):
                    stall["elsewhere"] = max(stall["elsewhere"], f["max_us"] / 1e6)
        for a, b in [steps[k] for k in ("merge", "commit") if k in steps]:
            if b - a >= 2:
                m = report.summarize(meters, states, a, b)
                full = [x for x in m["vms"].values() if x["mibPerSecond"]]
                merge_mib += sum(x["mibPerSecond"] for x in full) / max(1, len(full)) * (b - a)
                merge_secs += b - a
    print("  gdr-sync %s: %d cycles, %d failed, median %.1f s" % (
        variant, len(durations), failed, sorted(durations)[len(durations) // 2] if durations else 0))
    print("    longest write stall: %.3f s; at the snapshot %.3f s, at the pivot %s, elsewhere %.3f s" % (
        stall["cycle"],
        stall["snapshot"], "%.3f s (%d pivots)" % (stall["pivot"], pivoted) if pivoted else "(no pivot)",
        stall["elsewhere"]))
    print("    write latency during the cycles: p50 <%d us, p99 <%d us, max %.1f ms" % (
        report.percentile_us(histogram, 50), report.percentile_us(histogram, 99), slowest / 1000))
    if merge_secs and base_rate:
        print("    throughput during the merge: %.0f%% of the baseline (%.0f s of merging)" % (
            100 * merge_mib / merge_secs / base_rate, merge_secs))
    else:
        print("    throughput during the merge: (merges shorter than 2 s)")
    print("    libvirt: %d samples during the cycles, not running in %s" % (
        samples, ", ".join(sorted(not_running)) if not_running else "none"))
EOF
done
