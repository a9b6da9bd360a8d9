#!/bin/bash
# A DR cycle must not freeze the guests it runs through. A third lab VM
# runs the measuring guest (bench/guest_meter.c: O_DIRECT writes as fast as
# its disk allows, a line a second with its longest time without a write
# completing); the host stamps each line as it arrives, records libvirt's
# lifecycle events and samples libvirt's state of every lab VM once a
# second (bench/guest_meter_report.py). Loose bounds, to catch a
# regression that freezes guests, not to measure (scripts/bench guest
# does that):
#  1. The check's teeth: the guest suspended for 3 s is reported stalled
#     (the pause libvirt reported) and not running.
#  2. One delta-layout cycle over the three VMs: no write stall over 2 s,
#     libvirt says "running" at every sample, the guest kept writing.
source "$(dirname "$0")/lib.sh"
require_lab
start_agent
state=$(mktemp -d /tmp/gdr-guest-XXXXXX)
meter=gdr-lab-vm3
REPORT="$ROOT/bench/guest_meter_report.py"
recorders=()
cleanup() {
  local pid
  for pid in "${recorders[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  virsh -q resume "$meter" >/dev/null 2>&1 || true
  flatten_lab_vms "$state/gdr-before"
  stop_agent
  "$LAB" shrink --vms 2 >/dev/null 2>&1 || true
  rm -rf "$state"
}
trap cleanup EXIT
gdr_files >"$state/gdr-before"

GDR_LAB_DISK_SIZE=512M "$LAB" up --vms 3 --writer meter >/dev/null
grep -aq 'gdr-meter: writing' "$GDR_LAB_DIR/vms/$meter.console" || fail "$meter is not the measuring guest"
mkdir "$state/meter"
python3 "$REPORT" follow "$GDR_LAB_DIR/vms/$meter.console" "$state/meter/$meter.lines" &
recorders+=($!)
python3 "$REPORT" states "$state/meter/states" gdr-lab-vm1 gdr-lab-vm2 "$meter" &
recorders+=($!)
python3 "$REPORT" events "$state/meter/events" &
recorders+=($!)
now() { date +%s.%N; }
check() { # check FROM TO: the report on stdout; fails (exit 1) past the bounds
  python3 "$REPORT" check "$state/meter" "$1" "$2" --max-stall 2
}
sleep 5

note "1. the check's teeth: $meter suspended for 3 s"
from=$(now)
sleep 2
virsh -q suspend "$meter" >/dev/null
sleep 3
virsh -q resume "$meter" >/dev/null
sleep 3
to=$(now)
if check "$from" "$to" >"$state/teeth.json"; then fail "a guest suspended for 3 s passed the check: $(cat "$state/teeth.json")"; fi
grep -q "$meter stalled" "$state/teeth.json" || fail "the 3 s suspension was not seen as a stall: $(cat "$state/teeth.json")"
paused=$(json_get 'd["vms"]["'"$meter"'"]["pausedSeconds"]' <"$state/teeth.json")
python3 -c "import sys; sys.exit(not 2.5 <= float(sys.argv[1]) <= 4.5)" "$paused" ||
  fail "libvirt's events showed a pause of $paused s, not about 3 s: $(cat "$state/teeth.json")"
grep -q "not running: $meter paused" "$state/teeth.json" ||
  fail "libvirt's paused state was not seen: $(cat "$state/teeth.json")"
note "   rejected: $(json_get '"; ".join(d["problems"])' <"$state/teeth.json")"

note "2. one cycle under the measuring guest"
sleep 3
baseline_from=$(now)
sleep 8
from=$(now)
"$BIN/gdr-sync" --hosts "$AGENT_URL" "${TLS_ARGS[@]}" --volume "$GDR_LAB_PRIMARY" \
  --secondary "$GDR_LAB_SECONDARY_URL" --state-dir "$state/sync" --timeout 5m --layout delta --json \
  >"$state/cycle.json" 2>"$state/cycle.log" || fail "the cycle failed: $(cat "$state/cycle.json" "$state/cycle.log")"
to=$(now)
sleep 2
[ "$(json_get 'len(d["vms"])' <"$state/cycle.json")" = 3 ] || fail "the cycle did not cover the three VMs: $(cat "$state/cycle.json")"
check "$baseline_from" "$from" >"$state/baseline.json" || fail "the guest stalled before the cycle: $(cat "$state/baseline.json")"
check "$from" "$to" >"$state/during.json" || fail "a guest froze during the cycle: $(cat "$state/during.json")"
summary() { json_get '"%s MiB/s, longest stall %.3f s, write latency p50 < %d us, p99 < %d us" % (d["vms"]["'"$meter"'"]["mibPerSecond"], d["stallSeconds"], d["vms"]["'"$meter"'"]["latencyUs"]["p50"], d["vms"]["'"$meter"'"]["latencyUs"]["p99"])' <"$1"; }
note "   baseline: $(summary "$state/baseline.json")"
note "   cycle ($(json_get '"%.1f" % d["duration"]' <"$state/cycle.json") s): $(summary "$state/during.json"); libvirt samples $(json_get 'd["stateSamples"]' <"$state/during.json"), all running"
