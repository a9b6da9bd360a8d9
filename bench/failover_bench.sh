#!/bin/bash
# A failover's RTO on the two-site lab (scripts/lab-sites): for 2 and 4
# VMs, a fresh lab, two cycles with the guests writing, every process of
# the primary site killed -9, then `gdr-sync failover`. Prints the RTO
# (from the command until every VM's guest did disk I/O at the secondary),
# the primary check (each agent of --hosts probed), and the failover's
# states: CHECK the point, PROMOTE (keys fenced, read-only off, mount),
# DEFINE (overlays, XML, libvirt), START, WATCH until each guest's I/O.
#   bench/failover_bench.sh [RUNS] [gdr|manual|both]  (default 1 failover
#                                      per count, gdr: each needs a lab of its
#                                      own, about 3 min)
# manual: the same site lost, recovered the way an operator without gdr
# would, from the seed material: features.read-only off, a FUSE mount of
# the secondary, each VM's hand-written XML (the lab's own, its disk path
# moved to that mount) defined and started, until its guest's first disk
# write. It boots whatever the secondary's base files hold: no point is
# chosen or checked, nothing fenced, no older point for a VM the last
# cycle missed.
# The one-host lab should be down: both on 2 cores measure each other.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
source "$ROOT/bench/lib.sh"
SITES="$ROOT/scripts/lab-sites"
BIN=$(realpath -m "${GDR_BIN_DIR:-$ROOT/build/bin}")  # absolute: run inside the lab's hosts
runs=${1:-1}
mode=${2:-gdr}
case $mode in gdr | manual | both) ;; *) echo "usage: $0 [RUNS] [gdr|manual|both]" >&2; exit 2 ;; esac
state=$(mktemp -d /tmp/gdr-failover-bench-XXXXXX)
trap '"$SITES" down --purge >/dev/null 2>&1; rm -rf "$state"' EXIT
# manual_failover: at s1, as an operator would; prints "PROMOTE MOUNT DEFINE
# START WATCH" seconds. PROMOTE: read-only off; MOUNT: the FUSE mount;
# DEFINE and START: virsh, VM by VM; WATCH: until every guest wrote.
manual_failover() {
  "$SITES" on s1 bash -s "$GDR_SITES_SECONDARY" "$GDR_SITES_S1_ADDRESS" "$GDR_SITES_MOUNT" "$GDR_SITES_DIR/vms" \
    "$state/manual" "$(tr ',' '\n' <<<"$GDR_SITES_VMS" | cut -d@ -f1 | tr '\n' ' ')" <<'MANUAL'
set -eu
volume=$1 server=$2 old_mount=$3 xml_dir=$4 work=$5 names=$6
mkdir -p "$work/mnt"
now() { date +%s.%N; }
t0=$(now)
gluster --mode=script volume set "$volume" features.read-only off >/dev/null
t1=$(now)
mount -t glusterfs "$server:/$volume" "$work/mnt"
t2=$(now)
for name in $names; do
  sed "s|$old_mount/|$work/mnt/|g" "$xml_dir/$name.xml" >"$work/$name.xml"
  virsh -c qemu:///system -q define "$work/$name.xml" >/dev/null
done
t3=$(now)
for name in $names; do virsh -c qemu:///system -q start "$name" >/dev/null; done
t4=$(now)
for name in $names; do
  until [ "$(virsh -c qemu:///system domblkstat "$name" vda 2>/dev/null | awk '$2 == "wr_req" { print $3 }')" -gt 0 ] 2>/dev/null; do
    sleep 0.1
  done
done
t5=$(now)
python3 -c 'import sys; t = [float(x) for x in sys.argv[1:]]
print(" ".join("%.1f" % (b - a) for a, b in zip(t, t[1:])), "%.1f" % (t[-1] - t[0]))' "$t0" "$t1" "$t2" "$t3" "$t4" "$t5"
MANUAL
}

bring_up() { # bring_up PER_HOST: a fresh lab, two cycles, then the primary site killed
  "$SITES" down --purge >/dev/null 2>&1
  "$SITES" up --vms-per-host "$1" >"$state/env" 2>"$state/up.log" || { cat "$state/up.log" >&2; exit 1; }
  eval "$(cat "$state/env")"
  for c in 1 2; do
    # shellcheck disable=SC2086
    "$SITES" on p1 "$BIN/gdr-sync" --hosts "$GDR_SITES_PRIMARY_AGENTS" --volume "$GDR_SITES_PRIMARY" \
      --secondary "$GDR_SITES_SECONDARY_URL" $GDR_SITES_TLS --state-dir "$state/sync" >/dev/null 2>&1 ||
      { echo "cycle $c failed" >&2; exit 1; }
  done
  "$SITES" kill-site primary >/dev/null 2>&1
}

if [ "$mode" != gdr ]; then
  printf '%-4s %4s %9s %8s %6s %7s %6s %6s   (manual: no gdr)\n' VMs run "RTO (s)" PROMOTE MOUNT DEFINE START WATCH
  for per_host in 1 2; do
    n=$((per_host * 2))
    rtos=()
    for r in $(seq "$runs"); do
      bring_up "$per_host"
      read -r promote mount define start watch rto <<<"$(manual_failover)"
      printf '%-4s %4s %9s %8s %6s %7s %6s %6s\n' "$n" "$r" "$rto" "$promote" "$mount" "$define" "$start" "$watch"
      rtos+=("$rto")
      "$SITES" on s1 umount -l "$state/manual/mnt" 2>/dev/null || true
    done
    printf '%-4s %4s %9s\n' "$n" median "$(median "${rtos[@]}")"
  done
fi
[ "$mode" != manual ] || exit 0

printf '%-4s %4s %9s %8s %7s %8s %7s %6s %7s\n' VMs run "RTO (s)" primary CHECK PROMOTE DEFINE START WATCH
for per_host in 1 2; do
  n=$((per_host * 2))
  rtos=()
  for r in $(seq "$runs"); do
    bring_up "$per_host"
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
