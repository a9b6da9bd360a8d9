#!/bin/bash
# A failover's RTO on the two-site lab (scripts/lab-sites): for 2 and 4
# VMs, a fresh lab, two cycles with the guests writing, every process of
# the primary site killed -9, then `gdr-sync failover`. Prints the RTO
# (from the command until every VM's guest did disk I/O at the secondary),
# the primary check (each agent of --hosts probed), and the failover's
# states: CHECK the point, PROMOTE (keys fenced, read-only off, mount),
# DEFINE (overlays, XML, libvirt), START, WATCH until each guest's I/O.
#   bench/failover_bench.sh [RUNS]     (default 1 failover per count: each
#                                      needs a lab of its own, about 3 min)
# The one-host lab should be down: both on 2 cores measure each other.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
source "$ROOT/bench/lib.sh"
SITES="$ROOT/scripts/lab-sites"
BIN=$(realpath -m "${GDR_BIN_DIR:-$ROOT/build/bin}")  # absolute: run inside the lab's hosts
runs=${1:-1}
state=$(mktemp -d /tmp/gdr-failover-bench-XXXXXX)
trap '"$SITES" down --purge >/dev/null 2>&1; rm -rf "$state"' EXIT
printf '%-4s %4s %9s %8s %7s %8s %7s %6s %7s\n' VMs run "RTO (s)" primary CHECK PROMOTE DEFINE START WATCH
for per_host in 1 2; do
  n=$((per_host * 2))
  rtos=()
  for r in $(seq "$runs"); do
    "$SITES" down --purge >/dev/null 2>&1
    "$SITES" up --vms-per-host "$per_host" >"$state/env" 2>"$state/up.log" || { cat "$state/up.log" >&2; exit 1; }
    eval "$(cat "$state/env")"
    for c in 1 2; do
      # shellcheck disable=SC2086
      "$SITES" on p1 "$BIN/gdr-sync" --hosts "$GDR_SITES_PRIMARY_AGENTS" --volume "$GDR_SITES_PRIMARY" \
        --secondary "$GDR_SITES_SECONDARY_URL" $GDR_SITES_TLS --state-dir "$state/sync" >/dev/null 2>&1 ||
        { echo "cycle $c failed" >&2; exit 1; }
    done
    "$SITES" kill-site primary >/dev/null 2>&1
    # shellcheck disable=SC2086
    report=$("$SITES" on s1 "$BIN/gdr-sync" failover --hosts "$GDR_SITES_PRIMARY_AGENTS" \
      --secondary "$GDR_SITES_SECONDARY_URL" --secondary-agent "$GDR_SITES_SECONDARY_AGENT" $GDR_SITES_TLS \
      --state-dir "$state/failover" --json) || { echo "failover failed: $report" >&2; exit 1; }
    line=$(python3 -c 'import json,sys
d = json.load(sys.stdin); s = d["stateSeconds"]
print("%.1f %.1f %.1f %.1f %.1f %.1f %.1f" % (d["rtoSeconds"], d["primaryCheckSeconds"], s.get("CHECK", 0),
      s.get("PROMOTE", 0), s.get("DEFINE", 0), s.get("START", 0), s.get("WATCH", 0)))' <<<"$report")
    read -r rto primary check promote define start watch <<<"$line"
    printf '%-4s %4s %9s %8s %7s %8s %7s %6s %7s\n' "$n" "$r" "$rto" "$primary" "$check" "$promote" "$define" \
      "$start" "$watch"
    rtos+=("$rto")
  done
  printf '%-4s %4s %9s\n' "$n" median "$(median "${rtos[@]}")"
done
