#!/bin/bash
# The price of the delta layout, one point kept and three (printed, not
# asserted), next to the flat
# one, on the lab with its guests writing: per cycle, the wall time, the
# geo-replication step, and the bytes the secondary's brick wrote (its
# process's write calls: an upper bound on what crossed the WAN, as rsync
# may send less); and the space the secondary's brick holds afterwards.
#   bench/layout_bench.sh [CYCLES] [PAUSE_SECONDS] [layouts|sessions]
# `sessions`: the delta layout (3 points) with the geo-replication session
# stopped after each sync and kept running; the bytes are counted from one
# cycle's start to the next's, so that what a kept session ships between
# cycles counts too.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${GDR_BIN_DIR:-$ROOT/build/bin}
LAB="$ROOT/scripts/lab"
cycles=${1:-4}
pause=${2:-20}
what=${3:-layouts}
eval "$("$LAB" env)"
dir=$(mktemp -d /tmp/gdr-layout-bench-XXXXXX)
"$BIN/gdr-agent" --config /dev/null --listen "unix:$dir/agent.sock" --state-dir "$dir/state" \
  --log-file "$dir/agent.log" --delete-volumes "$GDR_LAB_SECONDARY" &
agent=$!
source "$ROOT/bench/lib.sh"
client() { "$BIN/gdr-client" -s "$dir/agent.sock" "$@"; }
gdr_files >"$dir/gdr-files"
cleanup() {
  flatten_lab_vms_with_agent "$dir/gdr-files"
  kill "$agent" 2>/dev/null || true
  wait "$agent" 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT
for _ in $(seq 100); do [ -S "$dir/agent.sock" ] && break; sleep 0.1; done

brick_pid() {
  gluster --mode=script volume status "$GDR_LAB_SECONDARY" --xml | python3 -c '
import sys, xml.etree.ElementTree as ET
for node in ET.parse(sys.stdin).iter("node"):
    if node.findtext("path", "").startswith("/"):
        print(node.findtext("pid")); break'
}
written() { awk '$1 == "wchar:" {print $2}' "/proc/$(brick_pid)/io"; }

# cycle_line REPORT LABEL N BYTES_BEFORE BYTES_AFTER SPAN: one cycle's figures
cycle_line() {
  python3 -c '
import json, sys
d = json.loads(sys.argv[1])
assert d["status"] == "success", d.get("alert")
geo = sum(s["duration"] for s in d["steps"] if s["step"].startswith("georep"))
print("%-8s cycle %d  %6.1f s  georep %5.1f s  written on the secondary%s %7.1f MiB" %
      (sys.argv[2], int(sys.argv[3]), d["duration"], geo, sys.argv[6], (int(sys.argv[5]) - int(sys.argv[4])) / 2**20))' "$@"
}

run() { # run LAYOUT KEEP: prints one line per cycle
  local layout=$1 keep=$2 i before after report
  for ((i = 0; i <= cycles; i++)); do
    sleep "$pause"
    before=$(written)
    report=$("$BIN/gdr-sync" --hosts "unix:$dir/agent.sock" --volume "$GDR_LAB_PRIMARY" \
      --secondary "$GDR_LAB_SECONDARY_URL" --state-dir "$dir/sync-$layout-$keep" --layout "$layout" --keep-points "$keep" --json) || true
    after=$(written)
    [ "$i" = 0 ] && continue  # the first cycle moves the layout in place
    cycle_line "$report" "$layout/$keep" "$i" "$before" "$after" ""
  done
  echo "$layout, $keep points kept: the secondary's brick holds $(du -s --block-size=1M "$GDR_LAB_SECONDARY_BRICK" | cut -f1) MiB"
}

# run_session SESSION: the delta layout, 3 points, one line per cycle with
# the bytes written from its start to the next cycle's start.
run_session() {
  local session=$1 i mark next previous=""
  mark=$(written)
  for ((i = 0; i <= cycles + 1; i++)); do
    [ "$i" -gt 0 ] && sleep "$pause"
    next=$(written)
    if [ "$i" -ge 2 ]; then  # the first cycle moves the layout in place
      cycle_line "$previous" "$session" "$((i - 1))" "$mark" "$next" " until the next cycle"
    fi
    mark=$next
    [ "$i" -gt "$cycles" ] && break
    previous=$("$BIN/gdr-sync" --hosts "unix:$dir/agent.sock" --volume "$GDR_LAB_PRIMARY" \
      --secondary "$GDR_LAB_SECONDARY_URL" --state-dir "$dir/sync-session-$session" --session "$session" --json) || true
  done
  gluster --mode=script volume geo-replication "$GDR_LAB_PRIMARY" "$GDR_LAB_SECONDARY_URL" stop >/dev/null 2>&1 || true
}

echo "$(virsh list --name | grep -c '^gdr-lab-vm') VMs writing, $pause s between cycles"
case $what in
  layouts)
    run flat 3
    run delta 1
    flatten_lab_vms_with_agent
    run delta 3
    ;;
  sessions)
    run_session stop
    flatten_lab_vms_with_agent
    run_session keep
    ;;
  *) echo "usage: layout_bench.sh [CYCLES] [PAUSE_SECONDS] [layouts|sessions]" >&2; exit 2 ;;
esac
