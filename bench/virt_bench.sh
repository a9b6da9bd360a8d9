#!/bin/bash
# Virt figures on the lab (printed, not asserted):
#  1. wall time to snapshot N = 1, 4, 8 running VMs: through the agent, one
#     VM.snapshot call per VM, all in parallel on connections opened
#     beforehand (as gdr-sync does), with the phases the agent logs for
#     each (reading the domain, creating the overlays, libvirt's snapshot),
#     versus one virsh
#     snapshot-create-as after another (both external, disk-only, atomic;
#     the agent asks for quiesce first, as gdr-sync does, and the lab guests
#     have no guest agent, so it costs one refused attempt);
#  2. live-merge throughput of a 256 MiB overlay (VM.merge: active
#     blockcommit + pivot) versus virsh blockcommit --active --pivot, both
#     under a booted guest writing its records; VM.merge under a guest
#     that never ran (QEMU up, vCPUs paused: no guest work beside the
#     merge); and `qemu-img commit` of the same data on the same volume,
#     offline, with the VM's cache mode (the ceiling: QEMU's live commit
#     and qemu-img's are the same mirror job) and with qemu-img's default,
#     writeback (the host's page cache takes the writes).
# Usage: virt_bench.sh [snapshot|merge] (both by default). The snapshots
# run on the lab brought up with 8 VMs, once every guest writes (a booting
# TCG guest takes most of a core); the merges on the lab's default VMs, the
# extra ones removed first (eight TCG guests on two cores would be most of
# what the merges measure).
set -euo pipefail
shopt -s inherit_errexit  # a failed step inside $(...) ends the benchmark, not its figure
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${GDR_BIN_DIR:-$ROOT/build/bin}
LAB="$ROOT/scripts/lab"
MAX_VMS=8
MERGE_ROUNDS=${MERGE_ROUNDS:-5}
SNAPSHOT_ROUNDS=${SNAPSHOT_ROUNDS:-3}
what=${1:-all}
case "$what" in all | snapshot | merge) ;; *) echo "usage: $0 [snapshot|merge]" >&2; exit 2 ;; esac
if [ "$what" = merge ]; then
  "$LAB" shrink >/dev/null
  eval "$("$LAB" env)"
else
  "$LAB" up --vms $MAX_VMS >/dev/null
  eval "$("$LAB" env --vms $MAX_VMS)"
fi
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
"$BIN/gdr-agent" --config /dev/null --listen "unix:$dir/agent.sock" --state-dir "$dir/state" --log-file "$dir/agent.log" \
  --log-level debug &
agent=$!
client() { "$BIN/gdr-client" -s "$dir/agent.sock" "$@"; }
for _ in $(seq 100); do client Host ping >/dev/null 2>&1 && break; sleep 0.1; done
now() { date +%s.%N; }
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
source "$ROOT/bench/lib.sh"
wait_writing() { # wait_writing CONSOLE: until the guest reports records (booted)
  local _
  for _ in $(seq 600); do
    grep -aq 'gdr-guest: wrote' "$1" 2>/dev/null && return 0
    sleep 0.2
  done
  echo "no guest records in $1 after 120 s" >&2
  return 1
}
wait_done() { await_job "$1" 0.2 >/dev/null; }
merge_back() { # merge_back VM...: one merge per VM, in parallel, waits for all
  local vm jobs=()
  for vm in "$@"; do
    jobs+=("$(client VM merge vmID="${uuid[$vm]}" drive=vda deleteTop=true | json 'd["jobId"]')")
  done
  for job in "${jobs[@]}"; do wait_done "$job"; done
}

if [ "$what" != merge ]; then
declare -A uuid  # looked up before timing: virsh itself takes tens of ms
for vm in "${vms[@]}"; do
  uuid[$vm]=$(virsh domuuid "$vm")
  wait_writing "$GDR_LAB_DIR/vms/$vm.console"
done
# parallel_snapshots UUID...: one VM.snapshot per VM, each on its own
# connection opened beforehand (as gdr-sync holds them), all sent at once;
# prints the seconds until the last reply.
parallel_snapshots() {
  python3 - "$dir/agent.sock" "$@" <<'PY'
import json, socket, sys, threading, time
path, uuids = sys.argv[1], sys.argv[2:]
conns = []
for _ in uuids:
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)
    conns.append(s)
errors = []
def snapshot(conn, uuid):
    request = {"jsonrpc": "2.0", "id": 1, "method": "VM.snapshot", "params": {"vmID": uuid}}
    conn.sendall((json.dumps(request) + "\n").encode())
    reply = b""
    while not reply.endswith(b"\n"):
        chunk = conn.recv(65536)
        if not chunk:
            break
        reply += chunk
    if "error" in json.loads(reply):
        errors.append(reply.decode())
threads = [threading.Thread(target=snapshot, args=pair) for pair in zip(conns, uuids)]
t0 = time.monotonic()
for t in threads:
    t.start()
for t in threads:
    t.join()
print("%.3f" % (time.monotonic() - t0))
if errors:
    sys.exit("snapshot failed: " + errors[0])
PY
}
# snapshot_phases SINCE-LINE: the median of each phase the agent logged for
# the snapshots after that line of its log.
snapshot_phases() {
  tail -n +"$1" "$dir/agent.log" | python3 -c '
import re, statistics, sys
phases = {}
for line in sys.stdin:
    if "snapshot of" not in line:
        continue
    for name, ms in re.findall(r"(read|size|overlays|refused quiesce|snapshot|reread) ([0-9.]+) ms", line):
        phases.setdefault(name, []).append(float(ms))
print(", ".join("%s %.0f" % (name, statistics.median(v)) for name, v in phases.items()))'
}
# cpu_ticks PID: its CPU time and its waited-for children's, in ticks.
cpu_ticks() { awk '{print $14 + $15 + $16 + $17}' "/proc/$1/stat"; }
libvirtd=$(pidof libvirtd || pidof virtqemud)
echo "snapshot wall time (seconds, median of $SNAPSHOT_ROUNDS; external, disk-only, atomic; guests writing)"
printf "%4s %16s %16s   %s\n" VMs "agent parallel" "virsh one by one" \
  "agent's phases per VM (ms, median); CPU per snapshot (ms: the agent with qemu-img, libvirtd)"
for n in 1 4 8; do
  agent_runs=() virsh_runs=() agent_cpu=0 libvirt_cpu=0
  since=$(($(wc -l <"$dir/agent.log") + 1))
  for ((round = 0; round < SNAPSHOT_ROUNDS; round++)); do
    ids=()
    for vm in "${vms[@]:0:$n}"; do ids+=("${uuid[$vm]}"); done
    a0=$(cpu_ticks "$agent") l0=$(cpu_ticks "$libvirtd")
    agent_runs+=("$(parallel_snapshots "${ids[@]}")")
    agent_cpu=$((agent_cpu + $(cpu_ticks "$agent") - a0)) libvirt_cpu=$((libvirt_cpu + $(cpu_ticks "$libvirtd") - l0))
    merge_back "${vms[@]:0:$n}"
    t0=$(now)
    for vm in "${vms[@]:0:$n}"; do
      virsh -q snapshot-create-as "$vm" --disk-only --atomic --no-metadata \
        --diskspec "vda,snapshot=external,file=$images/.gdr-snapshots/$vm.virsh-bench.qcow2" >/dev/null
    done
    t1=$(now)
    virsh_runs+=("$(elapsed "$t0" "$t1")")
    merge_back "${vms[@]:0:$n}"
  done
  tick_ms=$((1000 / $(getconf CLK_TCK))) snapshots=$((n * SNAPSHOT_ROUNDS))
  printf "%4d %16s %16s   %s; CPU %d, %d\n" "$n" "$(median "${agent_runs[@]}")" "$(median "${virsh_runs[@]}")" \
    "$(snapshot_phases "$since")" $((agent_cpu * tick_ms / snapshots)) $((libvirt_cpu * tick_ms / snapshots))
done
echo
"$LAB" shrink >/dev/null
fi
[ "$what" = snapshot ] && exit 0

# A transient VM (the lab guest) whose disk is base + a 256 MiB overlay.
# Each chain under new names: a sharded file removed and made again under
# the same name at once could lose writes to ENOENT here (a qemu-io write
# and a qemu-img commit failed so), which made a merge look fast.
# Each method runs in a subshell ($(...)): its pid names its chain.
top="" base=""
make_chain() { # make_chain: fresh base and overlay holding 256 MiB of data ($base, $top)
  local wrote
  base=$images/$merge_vm.$BASHPID.qcow2 top=$images/.gdr-snapshots/$merge_vm.$BASHPID.top.qcow2
  qemu-img create -q -f qcow2 "$base" 512M
  qemu-img create -q -f qcow2 -b "$base" -F qcow2 "$top"
  wrote=$(qemu-io -f qcow2 -c "write -P 0x5a 1M 256M" "$top")
  case "$wrote" in *"wrote 268435456/268435456 bytes"*) ;; *) echo "writing the overlay failed: $wrote" >&2; exit 1 ;; esac
  sed "s|@TOP@|$top|" "$dir/merge-vm.template.xml" >"$dir/merge-vm.xml"
}
drop_chain() { rm -f "$base" "$top"; }
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
' "$merge_vm" @TOP@ "$GDR_LAB_DIR/vms/$merge_vm.console" >"$dir/merge-vm.template.xml"
cache=$(python3 -c '
import sys, xml.etree.ElementTree as ET
print(ET.parse(sys.argv[1]).find("devices/disk/driver").get("cache") or "writeback")' "$dir/merge-vm.template.xml")
console=$GDR_LAB_DIR/vms/$merge_vm.console
echo "merge of a 256 MiB overlay into its base, on the primary volume (median of $MERGE_ROUNDS; the VM's cache mode: $cache)"
# start_merge_vm running|paused: the VM on a fresh chain; a running guest
# is timed once it writes (booted), a paused one never runs.
start_merge_vm() {
  make_chain
  : >"$console"
  if [ "$1" = paused ]; then
    virsh -q create --paused "$dir/merge-vm.xml" >/dev/null
  else
    virsh -q create "$dir/merge-vm.xml" >/dev/null
    wait_writing "$console"
  fi
}
merge_agent() { # merge_agent running|paused
  local job id t0 t1
  start_merge_vm "$1"
  id=$(virsh domuuid "$merge_vm")
  t0=$(now)
  job=$(client VM merge vmID="$id" drive=vda | json 'd["jobId"]')
  wait_done "$job"
  t1=$(now)
  virsh -q destroy "$merge_vm" >/dev/null
  drop_chain
  elapsed "$t0" "$t1"
}
merge_virsh() {
  local t0 t1
  start_merge_vm running
  t0=$(now)
  virsh -q blockcommit "$merge_vm" vda --active --pivot --wait >/dev/null
  t1=$(now)
  virsh -q destroy "$merge_vm" >/dev/null
  drop_chain
  elapsed "$t0" "$t1"
}
merge_offline() { # merge_offline CACHE-MODE
  local t0 t1
  make_chain
  t0=$(now)
  # -d: leave the top as it is (emptying it fails on a FUSE mount of gluster).
  qemu-img commit -q -t "$1" -d "$top"
  t1=$(now)
  drop_chain
  elapsed "$t0" "$t1"
}
agent_runs=() virsh_runs=() paused_runs=() offline_runs=() writeback_runs=()
for ((round = 0; round < MERGE_ROUNDS; round++)); do
  agent_runs+=("$(merge_agent running)")
  virsh_runs+=("$(merge_virsh)")
  paused_runs+=("$(merge_agent paused)")
  offline_runs+=("$(merge_offline "$cache")")
  writeback_runs+=("$(merge_offline writeback)")
done
ceiling=$(median "${offline_runs[@]}")
row() { # row LABEL RUNS...: median time, throughput, and its share of the ceiling's
  local label=$1 m
  shift
  m=$(median "$@")
  printf "%-52s %7s s %5s MiB/s %5s   (runs: %s)\n" "$label" "$m" "$(python3 -c "print('%.0f' % (256 / $m))")" \
    "$(python3 -c "print('%.0f%%' % (100 * $ceiling / $m))")" "$*"
}
printf "%-52s %9s %11s %5s\n" "" time throughput "of the ceiling"
row "VM.merge, guest writing (active commit + pivot)" "${agent_runs[@]}"
row "virsh blockcommit --active --pivot, guest writing" "${virsh_runs[@]}"
row "VM.merge, guest paused" "${paused_runs[@]}"
row "qemu-img commit -t $cache, offline (the ceiling)" "${offline_runs[@]}"
row "qemu-img commit -t writeback, offline" "${writeback_runs[@]}"
