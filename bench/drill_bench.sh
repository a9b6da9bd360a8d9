#!/bin/bash
# A drill's RTO on the two-site lab (scripts/lab-sites): for 1, 2 and 4
# VMs, the time from `gdr-sync drill` until every copy's guest did disk
# I/O, split by the drill's states (CHECK the point, PREPARE the overlays
# and XML, BOOT the copies, WATCH until each guest's I/O; CLEANUP after),
# and the slowest guest's time from its start to its first disk I/O.
#   bench/drill_bench.sh [RUNS]     (default 3 drills per count)
# The one-host lab should be down: both on 2 cores measure each other.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
source "$ROOT/bench/lib.sh"
SITES="$ROOT/scripts/lab-sites"
BIN=$(realpath -m "${GDR_BIN_DIR:-$ROOT/build/bin}")  # absolute: run inside the lab's hosts
runs=${1:-3}
state=$(mktemp -d /tmp/gdr-drill-bench-XXXXXX)
trap '"$SITES" down --purge >/dev/null 2>&1; rm -rf "$state"' EXIT
printf '%-4s %4s %9s %7s %8s %6s %7s %8s %12s\n' VMs run "RTO (s)" CHECK PREPARE BOOT WATCH CLEANUP "first I/O"
for per_host in 1 2; do
  "$SITES" down --purge >/dev/null 2>&1
  "$SITES" up --vms-per-host "$per_host" >"$state/env" 2>"$state/up.log" || { cat "$state/up.log" >&2; exit 1; }
  eval "$(cat "$state/env")"
  for c in 1 2; do
    # shellcheck disable=SC2086
    "$SITES" on p1 "$BIN/gdr-sync" --hosts "$GDR_SITES_PRIMARY_AGENTS" --volume "$GDR_SITES_PRIMARY" \
      --secondary "$GDR_SITES_SECONDARY_URL" $GDR_SITES_TLS --state-dir "$state/sync" >/dev/null ||
      { echo "cycle $c failed" >&2; exit 1; }
  done
  first_vm=${GDR_SITES_VMS%%@*}
  for n in $([ "$per_host" = 1 ] && echo "1 2" || echo 4); do
    only=()
    [ "$n" = 1 ] && only=(--vms "$first_vm")
    rtos=()
    for r in $(seq "$runs"); do
      # shellcheck disable=SC2086
      report=$("$SITES" on s1 "$BIN/gdr-sync" drill --secondary "$GDR_SITES_SECONDARY_URL" \
        --secondary-agent "$GDR_SITES_SECONDARY_AGENT" $GDR_SITES_TLS --state-dir "$state/drill" --json "${only[@]}") ||
        { echo "drill failed: $report" >&2; exit 1; }
      line=$(python3 -c 'import json,sys
d = json.load(sys.stdin); s = d["stateSeconds"]
rto = sum(s.get(k, 0) for k in ("INIT", "CHECK", "PREPARE", "BOOT", "WATCH"))
print("%.1f %.1f %.1f %.1f %.1f %.1f %.1f" % (rto, s.get("CHECK", 0), s.get("PREPARE", 0), s.get("BOOT", 0),
      s.get("WATCH", 0), s.get("CLEANUP", 0), max(v.get("bootSeconds", 0) for v in d["vms"])))' <<<"$report")
      read -r rto check prepare boot watch cleanup first <<<"$line"
      printf '%-4s %4s %9s %7s %8s %6s %7s %8s %12s\n' "$n" "$r" "$rto" "$check" "$prepare" "$boot" "$watch" \
        "$cleanup" "$first"
      rtos+=("$rto")
    done
    printf '%-4s %4s %9s\n' "$n" median "$(median "${rtos[@]}")"
  done
done
