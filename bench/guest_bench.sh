#!/bin/bash
# What a DR cycle costs the guests it runs through (printed, not asserted).
# Measuring guests (bench/guest_meter.c: O_DIRECT 4 KiB writes as fast as
# the disk allows, a latency histogram a second on the console) run beside
# the lab's two VMs: first alone for a baseline, then through cycles back
# to back, for each gdr-sync variant. For each VM count and variant it
# prints the guests' write throughput and latency (p50/p99/max) in the
# baseline and during the cycles, the longest stall (the longest time a
# guest saw no write complete, or a pause libvirt reported) around the
# snapshot, around the pivot (the flat layout's merges end with one; the
# delta layout's commit has none) and anywhere else, the throughput during
# the merge as a fraction of the baseline, how often libvirt showed a
# guest not running (sampled once a second) and its pause events.
#   bench/guest_bench.sh [CYCLES [VARIANT...]]    (default 3 cycles)
# A VARIANT is gdr-sync's options, quoted as one word; by default
# "--layout delta --keep-points 1" (each cycle from the second on commits
# the delta before it, as every cycle does from the fourth on with the
# default three points), "--layout flat" (both with the default merge pace,
# auto) and "--layout flat --merge-bandwidth unlimited". Each variant
# begins with every lab VM flat.
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
[ ${#variants[@]} -gt 0 ] || variants=("--layout delta --keep-points 1" "--layout flat" "--layout flat --merge-bandwidth unlimited")
baseline=${GDR_GUEST_BASELINE:-20}
"$LAB" up >/dev/null
eval "$("$LAB" env)"
dir=$(mktemp -d /tmp/gdr-guest-bench-XXXXXX)
"$BIN/gdr-agent" --config /dev/null --listen "unix:$dir/agent.sock" --state-dir "$dir/state" \
  --log-file "$dir/agent.log" --delete-volumes "$GDR_LAB_SECONDARY" \
  ${GDR_LAB_EVENTS_LISTEN:+--events-listen "$GDR_LAB_EVENTS_LISTEN"} &
agent=$!
source "$ROOT/bench/lib.sh"
client() { "$BIN/gdr-client" -s "$dir/agent.sock" "$@"; }
gdr_files >"$dir/gdr-files"
recorders=()
stop_recorders() {
  local pid
  for pid in "${recorders[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  recorders=()
}
cleanup() {
  stop_recorders
  flatten_lab_vms_with_agent "$dir/gdr-files"
  kill "$agent" 2>/dev/null || true
  wait "$agent" 2>/dev/null || true
  "$LAB" shrink --vms 2 >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap cleanup EXIT
for _ in $(seq 100); do client Host ping >/dev/null 2>&1 && break; sleep 0.1; done

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
  python3 "$REPORT" events "$run/events" &
  recorders+=($!)
  sleep 3
  base_from=$(date +%s.%N)
  sleep "$baseline"
  base_to=$(date +%s.%N)
  echo "$base_from $base_to" >"$run/baseline"
  v=0
  for variant in "${variants[@]}"; do
    v=$((v + 1))
    flatten_lab_vms_with_agent
    for ((c = 1; c <= cycles; c++)); do
      # shellcheck disable=SC2086
      "$BIN/gdr-sync" --hosts "unix:$dir/agent.sock" --volume "$GDR_LAB_PRIMARY" \
        --secondary "$GDR_LAB_SECONDARY_URL" --state-dir "$dir/sync" --timeout 10m --json $variant \
        >"$run/v$v-c$c.json" 2>"$run/v$v-c$c.log" ||
        echo "  (a cycle failed: $(python3 -c 'import json, sys; print(json.load(open(sys.argv[1])).get("alert"))' \
          "$run/v$v-c$c.json" 2>/dev/null || tail -n 3 "$run/v$v-c$c.log"))" >&2
    done
  done
  sleep 2
  stop_recorders
  cp "$dir/agent.log" "$run/agent.log"
  python3 "$REPORT" bench "$run" "$count" "$cycles" "${variants[@]}"
done
