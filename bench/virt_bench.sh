#!/bin/bash
# Virt figures on the lab (printed, not asserted):
#  1. wall time to snapshot N = 1, 4, 8 running VMs: through the agent, one
#     VM.snapshot call per VM, all in parallel, versus one virsh
#     snapshot-create-as after another (both external, disk-only, atomic;
#     the agent asks for quiesce first, as gdr-sync does, and the lab guests
#     have no guest agent, so it costs one refused attempt);
#  2. live-merge throughput of a 256 MiB overlay (VM.merge: active
#     blockcommit + pivot) versus virsh blockcommit --active --pivot, and
#     `qemu-img commit` of the same data on the same volume, offline (the
#     ceiling).
# Brings the lab up with 8 VMs and removes the extra ones afterwards.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${GDR_BIN_DIR:-$ROOT/build/bin}
LAB="$ROOT/scripts/lab"
MAX_VMS=8
MERGE_ROUNDS=${MERGE_ROUNDS:-5}
"$LAB" up --vms $MAX_VMS >/dev/null
eval "$("$LAB" env --vms $MAX_VMS)"
IFS=, read -r -a vms <<<"$GDR_LAB_VMS"
dir=$(mktemp -d /tmp/gdr-virt-bench-XXXXXX)
images=$GDR_LAB_PRIMARY_MOUNT/images
agent=""
merge_vm=gdr-bench-merge-$$
cleanup() {
  [ -n "$agent" ] && { kill "$agent" 2>/dev/null || true; wait "$agent" 2>/dev/null || true; }
  virsh -q destroy "$merge_vm" >/dev/null 2>&1 || true
  rm -f "$images/$merge_vm"* "$images/.gdr-snapshots/$merge_vm"* "$GDR_LAB_DIR/vms/$merge_vm".*
  rm -rf "$dir"
  "$LAB" shrink  # back to the lab's default VMs, which the tests expect
}
trap cleanup EXIT
"$BIN/gdr-agent" --config /dev/null --listen "unix:$dir/agent.sock" --state-dir "$dir/state" --log-file "$dir/agent.log" &
agent=$!
client() { "$BIN/gdr-client" -s "$dir/agent.sock" "$@"; }
for _ in $(seq 100); do client Host ping >/dev/null 2>&1 && break; sleep 0.1; done
now() { date +%s.%N; }
elapsed() { python3 -c "print('%.3f' % ($2 - $1))"; }
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
source "$ROOT/bench/lib.sh"
wait_done() { await_job "$1" 0.2 >/dev/null; }
merge_back() { # merge_back VM...: one merge per VM, in parallel, waits for all
  local vm jobs=()
  for vm in "$@"; do
    jobs+=("$(client VM merge vmID="${uuid[$vm]}" drive=vda deleteTop=true | json 'd["jobId"]')")
  done
  for job in "${jobs[@]}"; do wait_done "$job"; done
}

declare -A uuid  # looked up before timing: virsh itself takes tens of ms
for vm in "${vms[@]}"; do uuid[$vm]=$(virsh domuuid "$vm"); done
echo "snapshot wall time (seconds; external, disk-only, atomic; guests writing)"
printf "%4s %16s %16s\n" VMs "agent parallel" "virsh one by one"
for n in 1 4 8; do
  pids=()
  t0=$(now)
  for vm in "${vms[@]:0:$n}"; do
    client VM snapshot vmID="${uuid[$vm]}" >/dev/null &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p"; done
  t1=$(now)
  merge_back "${vms[@]:0:$n}"
  t2=$(now)
  for vm in "${vms[@]:0:$n}"; do
    virsh -q snapshot-create-as "$vm" --disk-only --atomic --no-metadata \
      --diskspec "vda,snapshot=external,file=$images/.gdr-snapshots/$vm.virsh-bench.qcow2" >/dev/null
  done
  t3=$(now)
  merge_back "${vms[@]:0:$n}"
  printf "%4d %16s %16s\n" "$n" "$(elapsed "$t0" "$t1")" "$(elapsed "$t2" "$t3")"
done
echo

# A transient VM (the lab guest) whose disk is base + a 256 MiB overlay.
make_chain() { # make_chain: fresh base and overlay holding 256 MiB of data
  rm -f "$images/$merge_vm.qcow2" "$images/.gdr-snapshots/$merge_vm.top.qcow2"
  qemu-img create -q -f qcow2 "$images/$merge_vm.qcow2" 512M
  qemu-img create -q -f qcow2 -b "$images/$merge_vm.qcow2" -F qcow2 "$images/.gdr-snapshots/$merge_vm.top.qcow2"
  qemu-io -f qcow2 -c "write -P 0x5a 1M 256M" "$images/.gdr-snapshots/$merge_vm.top.qcow2" >/dev/null
}
echo "merge of a 256 MiB overlay into its base, on the primary volume (median of $MERGE_ROUNDS)"
virsh dumpxml --inactive "${vms[0]}" | python3 -c '
import sys, xml.etree.ElementTree as ET
name, top, console = sys.argv[1:4]
dom = ET.fromstring(sys.stdin.read())
dom.find("name").text = name
dom.remove(dom.find("uuid"))
devices = dom.find("devices")
devices.find("disk").find("source").set("file", top)
for serial in devices.findall("serial"):
    serial.find("source").set("path", console)
print(ET.tostring(dom, encoding="unicode"))
' "$merge_vm" "$images/.gdr-snapshots/$merge_vm.top.qcow2" "$GDR_LAB_DIR/vms/$merge_vm.console" >"$dir/merge-vm.xml"
# MERGE_ROUNDS rounds, the three methods in turn on a fresh chain each; medians.
merge_agent() {
  local job id t0 t1
  virsh -q create "$dir/merge-vm.xml" >/dev/null
  id=$(virsh domuuid "$merge_vm")
  t0=$(now)
  job=$(client VM merge vmID="$id" drive=vda | json 'd["jobId"]')
  wait_done "$job"
  t1=$(now)
  virsh -q destroy "$merge_vm" >/dev/null
  elapsed "$t0" "$t1"
}
merge_virsh() {
  local t0 t1
  virsh -q create "$dir/merge-vm.xml" >/dev/null
  t0=$(now)
  virsh -q blockcommit "$merge_vm" vda --active --pivot --wait >/dev/null
  t1=$(now)
  virsh -q destroy "$merge_vm" >/dev/null
  elapsed "$t0" "$t1"
}
merge_offline() {
  local t0 t1
  t0=$(now)
  # -d: leave the top as it is (emptying it fails on a FUSE mount of gluster).
  qemu-img commit -q -d "$images/.gdr-snapshots/$merge_vm.top.qcow2"
  t1=$(now)
  elapsed "$t0" "$t1"
}
agent_runs=() virsh_runs=() offline_runs=()
for ((round = 0; round < MERGE_ROUNDS; round++)); do
  make_chain; agent_runs+=("$(merge_agent)")
  make_chain; virsh_runs+=("$(merge_virsh)")
  make_chain; offline_runs+=("$(merge_offline)")
done
row() { # row LABEL RUNS...
  local label=$1 m
  shift
  m=$(median "$@")
  printf "%-44s %8s s %8s MiB/s   (runs: %s)\n" "$label" "$m" "$(python3 -c "print('%.0f' % (256 / $m))")" "$*"
}
row "VM.merge (live, active commit + pivot)" "${agent_runs[@]}"
row "virsh blockcommit --active --pivot --wait" "${virsh_runs[@]}"
row "qemu-img commit (offline, the ceiling)" "${offline_runs[@]}"
