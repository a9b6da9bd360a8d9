#!/bin/bash
# Virt figures on the lab (printed, not asserted):
#  1. wall time to snapshot N = 1, 4, 8 running VMs: through the agent, one
#     VM.snapshot call per VM, all in parallel, versus one virsh
#     snapshot-create-as after another (both external, disk-only, atomic);
#  2. live-merge throughput of a 256 MiB overlay (VM.merge: active
#     blockcommit + pivot) versus `qemu-img commit` of the same data on the
#     same volume, offline (the ceiling).
# Brings the lab up with 8 VMs and removes the extra ones afterwards.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${GDR_BIN_DIR:-$ROOT/build/bin}
LAB="$ROOT/scripts/lab"
MAX_VMS=8
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
wait_done() { # wait_done JOB -> 0 when DONE
  local state
  while :; do
    state=$(client Host getJobs jobIds="[\"$1\"]" | json "d['jobs']['$1']['state']")
    case "$state" in DONE) return 0 ;; FAILED | ABORTED) client Host getJobs >&2; return 1 ;; esac
    sleep 0.05
  done
}
merge_back() { # merge_back VM...: one merge per VM, in parallel, waits for all
  local vm jobs=()
  for vm in "$@"; do
    jobs+=("$(client VM merge vmID="$(virsh domuuid "$vm")" drive=vda deleteTop=true | json 'd["jobId"]')")
  done
  for job in "${jobs[@]}"; do wait_done "$job"; done
}

echo "snapshot wall time (seconds; external, disk-only, atomic; guests writing)"
printf "%4s %16s %16s\n" VMs "agent parallel" "virsh one by one"
for n in 1 4 8; do
  pids=()
  t0=$(now)
  for vm in "${vms[@]:0:$n}"; do
    client VM snapshot vmID="$(virsh domuuid "$vm")" >/dev/null &
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
  printf "%4d %16s %16s\n" "$n" "$(elapsed "$t1" "$t0")" "$(elapsed "$t3" "$t2")"
done
echo

# A transient VM (the lab guest) whose disk is base + a 256 MiB overlay.
make_chain() { # make_chain: fresh base and overlay holding 256 MiB of data
  rm -f "$images/$merge_vm.qcow2" "$images/.gdr-snapshots/$merge_vm.top.qcow2"
  qemu-img create -q -f qcow2 "$images/$merge_vm.qcow2" 512M
  qemu-img create -q -f qcow2 -b "$images/$merge_vm.qcow2" -F qcow2 "$images/.gdr-snapshots/$merge_vm.top.qcow2"
  qemu-io -f qcow2 -c "write -P 0x5a 1M 256M" "$images/.gdr-snapshots/$merge_vm.top.qcow2" >/dev/null
}
echo "merge of a 256 MiB overlay into its base, on the primary volume"
make_chain
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
virsh -q create "$dir/merge-vm.xml" >/dev/null
t0=$(now)
job=$(client VM merge vmID="$(virsh domuuid "$merge_vm")" drive=vda | json 'd["jobId"]')
wait_done "$job"
t1=$(now)
virsh -q destroy "$merge_vm" >/dev/null
agent_s=$(elapsed "$t0" "$t1")
make_chain
t0=$(now)
qemu-img commit -q "$images/.gdr-snapshots/$merge_vm.top.qcow2"
t1=$(now)
ceiling_s=$(elapsed "$t0" "$t1")
printf "%-44s %8s s %8s MiB/s\n" "VM.merge (live, active commit + pivot)" "$agent_s" "$(python3 -c "print('%.0f' % (256 / $agent_s))")"
printf "%-44s %8s s %8s MiB/s\n" "qemu-img commit (offline, the ceiling)" "$ceiling_s" "$(python3 -c "print('%.0f' % (256 / $ceiling_s))")"
