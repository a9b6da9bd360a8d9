#!/bin/bash
# DR cycle overhead on the lab (printed, not asserted): the cycle's wall
# time minus its geo-replication transfer, for 1, 2 and 4 VMs whose guests
# keep writing; gdr-sync (parallel snapshots and merges through the agent,
# gfapi deletion, sampled verification) next to the reference way done by
# hand, one step after another: virsh snapshots, gluster's
# schedule_georep.py, a FUSE mount + rm on the secondary (read-only lifted
# for the purpose), virsh blockcommit --active --pivot.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${GDR_BIN_DIR:-$ROOT/build/bin}
LAB="$ROOT/scripts/lab"
SCHEDULE_GEOREP=/usr/lib/x86_64-linux-gnu/glusterfs/scripts/schedule_georep.py
dir=$(mktemp -d /tmp/gdr-cycle-bench-XXXXXX)
agent=""
stop_agent() { if [ -n "$agent" ]; then kill "$agent" 2>/dev/null || true; wait "$agent" 2>/dev/null || true; agent=""; fi; }
cleanup() {
  stop_agent
  gluster --mode=script volume set "${GDR_LAB_SECONDARY:-gdr-secondary}" features.read-only on >/dev/null 2>&1 || true
  mountpoint -q "$dir/secondary" 2>/dev/null && umount "$dir/secondary"
  rm -rf "$dir"
  "$LAB" shrink >/dev/null  # back to the default VMs, which the tests expect
}
trap cleanup EXIT
now() { date +%s.%N; }
sub() { python3 -c "print('%.2f' % ($1 - $2))"; }

gdr_cycle() { # prints "total georep verify"
  local report
  report=$("$BIN/gdr-sync" --hosts "unix:$dir/agent.sock" --volume "$GDR_LAB_PRIMARY" \
    --secondary "$GDR_LAB_SECONDARY_URL" --state-dir "$dir/sync" --layout flat --json)  # the flat layout: the steps of the reference way
  python3 -c '
import json, sys
d = json.load(sys.stdin)
assert d["status"] == "success", d.get("alert")
geo = sum(s["duration"] for s in d["steps"] if s["step"].startswith("georep"))
verify = sum(s["duration"] for s in d["steps"] if s["step"].startswith("verify"))
print(sum(s["duration"] for s in d["steps"]), geo, verify)' <<<"$report"
}

manual_cycle() { # prints "total georep"
  local t0 t1 t2 vm disk top
  t0=$(now)
  for vm in "${vms[@]}"; do
    disk=$(virsh domblklist "$vm" | awk '$1 == "vda" {print $2}')
    virsh -q snapshot-create-as "$vm" --disk-only --atomic --no-metadata \
      --diskspec "vda,snapshot=external,file=$(dirname "$disk")/.gdr-snapshots/$vm.manual.qcow2" >/dev/null
  done
  t1=$(now)
  /usr/bin/python3 "$SCHEDULE_GEOREP" --no-color "$GDR_LAB_PRIMARY" "$GDR_LAB_HOST" "$GDR_LAB_SECONDARY" >"$dir/schedule.log" 2>&1
  t2=$(now)
  gluster --mode=script volume set "$GDR_LAB_SECONDARY" features.read-only off >/dev/null
  mkdir -p "$dir/secondary"
  mount -t glusterfs "$GDR_LAB_HOST:/$GDR_LAB_SECONDARY" "$dir/secondary"
  for vm in "${vms[@]}"; do rm -f "$dir/secondary/images/.gdr-snapshots/$vm.manual.qcow2"; done
  umount "$dir/secondary"
  gluster --mode=script volume set "$GDR_LAB_SECONDARY" features.read-only on >/dev/null
  for vm in "${vms[@]}"; do
    top=$(virsh domblklist "$vm" | awk '$1 == "vda" {print $2}')
    virsh -q blockcommit "$vm" vda --active --pivot --wait >/dev/null
    rm -f "$top"
  done
  echo "$(sub "$(now)" "$t0") $(sub "$t2" "$t1")"
}

echo "seconds; overhead = total - geo-rep (- verify: the manual way checks nothing)"
printf "%4s | %10s %10s %10s %10s | %10s %10s %10s\n" VMs "gdr total" "geo-rep" verify overhead "manual" "geo-rep" overhead
for n in 1 2 4; do
  "$LAB" up --vms "$n" >/dev/null
  "$LAB" shrink --vms "$n" >/dev/null
  eval "$("$LAB" env --vms "$n")"
  IFS=, read -r -a vms <<<"$GDR_LAB_VMS"
  "$BIN/gdr-agent" --config /dev/null --listen "unix:$dir/agent.sock" --state-dir "$dir/state" \
    --log-file "$dir/agent.log" --events-listen "$GDR_LAB_EVENTS_LISTEN" &
  agent=$!
  for _ in $(seq 100); do "$BIN/gdr-client" -s "$dir/agent.sock" Host ping >/dev/null 2>&1 && break; sleep 0.1; done
  read -r g_total g_geo g_verify <<<"$(gdr_cycle)"
  stop_agent
  read -r m_total m_geo <<<"$(manual_cycle)"
  printf "%4d | %10.2f %10.2f %10.2f %10.2f | %10.2f %10.2f %10.2f\n" "$n" "$g_total" "$g_geo" "$g_verify" \
    "$(sub "$g_total - $g_geo" "$g_verify")" \
    "$m_total" "$m_geo" "$(sub "$m_total" "$m_geo")"
done
