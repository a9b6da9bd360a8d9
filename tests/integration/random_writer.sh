#!/bin/bash
# A guest that writes sequence-numbered records at random places over its
# whole disk (the lab's random writer, as a real filesystem scatters its
# writes): a DR cycle leaves on the secondary a copy that equals the disk
# after some prefix of those writes, and the guest's definition beside it.
# The third lab VM is added for this test and removed afterwards.
source "$(dirname "$0")/lib.sh"
require_lab
start_agent
state=$(mktemp -d /tmp/gdr-sync-XXXXXX)
vm=gdr-lab-vm3
disk=$GDR_LAB_PRIMARY_MOUNT/images/$vm.qcow2
cleanup() {
  stop_agent
  "$LAB" shrink --vms 2 >/dev/null 2>&1 || true
  rm -rf "$state"
}
trap cleanup EXIT

note "a third VM, writing at random places"
"$LAB" shrink --vms 2 >/dev/null  # a VM 3 some earlier run left, with whatever writer
"$LAB" up --vms 3 --writer random >/dev/null
grep -q 'gdr-guest: writing random records' "$GDR_LAB_DIR/vms/$vm.console" || fail "$vm is not the random writer"
before=$(guest_progress "$vm")
sleep 3
[ "$(guest_progress "$vm")" -gt "${before:-0}" ] || fail "$vm is not writing"

note "one cycle over the three VMs"
report=$("$BIN/gdr-sync" --hosts "$AGENT_URL" "${TLS_ARGS[@]}" --volume "$GDR_LAB_PRIMARY" \
  --secondary "$GDR_LAB_SECONDARY_URL" --state-dir "$state" --timeout 5m --json) || fail "the cycle failed: $report"
[ "$(json_get 'len(d["vms"])' <<<"$report")" = 3 ] || fail "the cycle did not cover the three VMs"

mnt=$(mktemp -d)
mount -t glusterfs -o ro "$GDR_LAB_HOST:/$GDR_LAB_SECONDARY" "$mnt"
trap 'umount "$mnt"; rmdir "$mnt"; cleanup' EXIT
result=$("$LAB" check-consistency "$mnt/images/$vm.qcow2") || fail "the copy of $vm is not consistent: $result"
[ "$(json_get 'd["mode"]' <<<"$result")" = random ] || fail "the copy of $vm holds no random records: $result"
records=$(json_get 'd["records"]' <<<"$result")
[ "$records" -gt 0 ] || fail "the copy of $vm holds no records: $result"
note "$vm: records 1..$records on the secondary"
virsh dumpxml --inactive "$vm" >"$state/primary.xml"
sha=$(json_get "[v for v in d['vms'] if v['name'] == '$vm'][0]['definition']['sha256']" <<<"$report")
"$ROOT/tests/integration/check_definition.py" "$mnt/.gdr/vms/$(virsh domuuid "$vm").xml" "$state/primary.xml" \
  "$GDR_LAB_PRIMARY_MOUNT" "$mnt" "$sha" "$disk" || fail "the definition of $vm"
note "ok"
