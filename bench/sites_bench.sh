#!/bin/bash
# The two-site lab's figures (scripts/lab-sites): how long it takes to come
# up from nothing, and DR cycles across its hosts, for each number of VMs
# per host (guests on p1 and p2): each cycle's wall time and georep step,
# and their medians without the first cycle (its sync is the initial crawl).
# Each layout is VMS_PER_HOST:PRIMARY_BRICKS; gdr-primary is replica 3 over
# p1-p3, or one brick on p1 (geo-rep then has one worker and no replicas).
#   bench/sites_bench.sh [CYCLES] [LAYOUT...]     (defaults: 5, "1:3 2:3 1:1")
# The one-host lab should be down: both on 2 cores measure each other.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
source "$ROOT/bench/lib.sh"
SITES="$ROOT/scripts/lab-sites"
BIN=$(realpath -m "${GDR_BIN_DIR:-$ROOT/build/bin}")  # absolute: run inside the lab's hosts
cycles=${1:-5}
[ $# -gt 0 ] && shift
layouts=${*:-1:3 2:3 1:1}
state=$(mktemp -d /tmp/gdr-sites-bench-XXXXXX)
trap '"$SITES" down --purge >/dev/null 2>&1; rm -rf "$state"' EXIT
printf '%-14s %6s %8s %6s  %s\n' "VMs" "bricks" "up (s)" "cycle" "wall (s) / georep step (s)"
for layout in $layouts; do
  n=${layout%%:*} bricks=${layout#*:}
  "$SITES" down --purge >/dev/null 2>&1
  start=$(date +%s.%N)
  "$SITES" up --vms-per-host "$n" --primary-bricks "$bricks" >"$state/env" 2>"$state/up.log" ||
    { cat "$state/up.log" >&2; exit 1; }
  up=$(python3 -c "import sys; print('%.1f' % (float(sys.argv[2]) - float(sys.argv[1])))" "$start" "$(date +%s.%N)")
  eval "$(cat "$state/env")"
  walls=() georeps=()
  for c in $(seq "$cycles"); do
    # shellcheck disable=SC2086
    report=$("$SITES" on p1 "$BIN/gdr-sync" --hosts "$GDR_SITES_PRIMARY_AGENTS" --volume "$GDR_SITES_PRIMARY" \
      --secondary "$GDR_SITES_SECONDARY_URL" $GDR_SITES_TLS --state-dir "$state/sync-$layout" --json) ||
      echo "cycle $c failed: $(python3 -c 'import json,sys; print(json.load(sys.stdin).get("alert"))' <<<"$report")" >&2
    read -r wall georep < <(python3 -c 'import json,sys; d=json.load(sys.stdin)
print("%.1f %.1f" % (d["duration"], sum(s["duration"] for s in d["steps"] if s["step"] == "georep")))' <<<"$report")
    printf '%-14s %6s %8s %6s  %s / %s\n' "$((2 * n)) on 2 hosts" "$bricks" "$up" "$c" "$wall" "$georep"
    if [ "$c" -gt 1 ]; then walls+=("$wall"); georeps+=("$georep"); fi
  done
  [ "${#walls[@]}" -gt 0 ] &&
    printf '%-14s %6s %8s %6s  %s / %s\n' "$((2 * n)) on 2 hosts" "$bricks" "$up" "median" "$(median "${walls[@]}")" "$(median "${georeps[@]}")"
done
