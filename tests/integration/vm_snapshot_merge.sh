#!/bin/bash
# VM.snapshot and VM.merge through a running agent, on a lab VM whose guest
# keeps writing: the frozen base is crash-consistent; the merge brings the
# chain back to one image holding the newest records; a merge survives
# kill -9 of the agent (twice during COMMIT, once during READY); bad input is refused with a
# clear code and leaves the VM untouched.
source "$(dirname "$0")/lib.sh"
require_lab

vm_name=${GDR_LAB_VMS%%,*}
base=${GDR_LAB_DISKS%%,*}
vm=$(virsh domuuid "$vm_name")
chain() { virsh dumpxml "$vm_name" | grep -c '<source file=' || true; }
start_agent

note "bad input"
before=$(virsh domblklist "$vm_name" | awk '$1 == "vda" {print $2}')
expect_error 1 client VM snapshot vmID=01234567-89ab-cdef-0123-456789abcdef
expect_error 91 client VM snapshot vmID="$vm" snapDrives='[{"name": "vdq"}]'
expect_error 91 client VM snapshot vmID="$vm" snapDrives='[{"name": "vda", "overlayPath": "/tmp/outside.qcow2"}]'
expect_error 91 client VM snapshot vmID="$vm" snapDrives='[{"name": "vda", "overlayPath": "'"$base"'"}]'
expect_error 91 client VM merge vmID="$vm" drive=vda
expect_error 91 client VM merge vmID="$vm" drive=vdq
expect_error -32602 client VM merge vmID=not-a-uuid drive=vda
[ "$(virsh domblklist "$vm_name" | awk '$1 == "vda" {print $2}')" = "$before" ] || fail "bad input changed the VM"
[ "$(chain)" = 1 ] || fail "bad input changed the chain"

note "snapshot, guest writes, merge"
progress0=$(guest_progress "$vm_name")
out=$(client VM snapshot vmID="$vm")
top=$(json_get 'd["disks"][0]["top"]' <<<"$out")
[ "$(json_get 'd["disks"][0]["base"]' <<<"$out")" = "$base" ] || fail "unexpected base: $out"
[ -f "$top" ] || fail "overlay $top missing"
[ "$(chain)" = 2 ] || fail "the chain is not base + overlay"

note "overlayDelete never touches the primary, nor what a running VM has open"
on_primary=(volfileServers='["'"$GDR_LAB_HOST"'"]' volumeName="$GDR_LAB_PRIMARY" paths='["'"${top#"$GDR_LAB_PRIMARY_MOUNT"/}"'"]')
expect_error 3220 client GlusterVolume overlayDelete "${on_primary[@]}"
stop_agent_process
launch_agent --delete-volumes "$GDR_LAB_PRIMARY,$GDR_LAB_SECONDARY"  # as a careless config would
expect_error 3221 client GlusterVolume overlayDelete "${on_primary[@]}"
stop_agent_process
launch_agent
[ -f "$top" ] || fail "the live overlay $top was deleted"
sleep 3
report=$("$LAB" check-consistency "$base") || fail "frozen base not consistent: $report"
frozen=$(json_get 'd["records"]' <<<"$report")
[ "$frozen" -ge "${progress0:-0}" ] || fail "the frozen base lost records"

# A small overlay merges in well under a second: the agent holds the
# merge in READY for 3 s (merge_pivot_delay), so the second call surely
# meets it running.
printf 'merge_pivot_delay = 3\n' >"$AGENT_DIR/hold.conf"
stop_agent_process
launch_agent --config "$AGENT_DIR/hold.conf"
job=$(client VM merge vmID="$vm" drive=vda deleteTop=true | json_get 'd["jobId"]')
expect_error 1102 client VM merge vmID="$vm" drive=vda
state=$(wait_job "$job" 20)
[ "$state" = DONE ] || fail "merge ended $state: $(client Host getJobs)"
stop_agent_process
launch_agent
[ "$(chain)" = 1 ] || fail "the chain is not back to one image"
[ ! -e "$top" ] || fail "deleteTop left $top"
sleep 2
virsh -q suspend "$vm_name" >/dev/null
report=$("$LAB" check-consistency "$base") || { virsh -q resume "$vm_name"; fail "merged base not consistent: $report"; }
virsh -q resume "$vm_name" >/dev/null
merged=$(json_get 'd["records"]' <<<"$report")
[ "$merged" -gt "$frozen" ] || fail "the merged base lacks the overlay's records ($merged <= $frozen)"
note "frozen $frozen records, merged $merged"

note "merge survives kill -9 of the agent during COMMIT, twice"
out=$(client VM snapshot vmID="$vm")
top=$(json_get 'd["disks"][0]["top"]' <<<"$out")
sleep 8  # give the overlay a few MiB, so a 1 MiB/s commit lasts a while
job=$(client VM merge vmID="$vm" drive=vda deleteTop=true bandwidth=1 | json_get 'd["jobId"]')
for round in 1 2; do
  state=$(await_job_state "$job" COMMIT 5)
  [ "$state" = COMMIT ] || note "round $round: job already in $state when killed"
  crash_and_relaunch_agent
done
state=$(wait_job "$job" 150)
[ "$state" = DONE ] || fail "recovered merge ended $state: $(client Host getJobs)"
[ "$(chain)" = 1 ] || fail "the chain is not back to one image after recovery"
[ ! -e "$top" ] || fail "deleteTop left $top"
after=$(guest_progress "$vm_name")
sleep 2
[ "$(guest_progress "$vm_name")" -gt "$after" ] || fail "the guest stopped writing"

note "merge survives kill -9 of the agent during READY"
# READY lasts milliseconds: an agent told to pause there (merge_pivot_delay)
# is killed in it, and an agent without the pause recovers the job.
printf 'merge_pivot_delay = 600\n' >"$AGENT_DIR/pivot-delay.conf"
stop_agent_process
launch_agent --config "$AGENT_DIR/pivot-delay.conf"
out=$(client VM snapshot vmID="$vm")
top=$(json_get 'd["disks"][0]["top"]' <<<"$out")
sleep 2
job=$(client VM merge vmID="$vm" drive=vda deleteTop=true | json_get 'd["jobId"]')
state=$(await_job_state "$job" READY 30)
[ "$state" = READY ] || fail "the merge did not reach READY: $state"
live_xml=$(virsh dumpxml "$vm_name")
[[ "$live_xml" == *"<mirror "*"ready='yes'"* ]] || fail "READY, but libvirt's mirror is not ready"
[ "$(virsh domblklist "$vm_name" | awk '$1 == "vda" {print $2}')" = "$top" ] || fail "READY, but vda is no longer on $top"
crash_and_relaunch_agent
state=$(wait_job "$job" 60)
[ "$state" = DONE ] || fail "merge recovered from READY ended $state: $(client Host getJobs)"
[ "$(chain)" = 1 ] || fail "the chain is not back to one image after recovery from READY"
[ ! -e "$top" ] || fail "deleteTop left $top"

note "a VM with two disks"
# A transient VM built from a lab VM's definition, with a second data disk
# from the start (the lab's machine type has no PCI hotplug).
two_name=gdr-test-twodisk-$$
two_dir=$GDR_LAB_PRIMARY_MOUNT/images
two_vda=$two_dir/$two_name.qcow2
two_vdb=$two_dir/$two_name-data.qcow2
qemu-img create -q -f qcow2 "$two_vda" 64M
qemu-img create -q -f qcow2 "$two_vdb" 64M
two_cleanup() {
  virsh -q destroy "$two_name" >/dev/null 2>&1 || true
  rm -f "$two_vda" "$two_vdb" "$two_dir"/.gdr-snapshots/"$two_name"* "$GDR_LAB_DIR/vms/$two_name".*
}
trap 'two_cleanup; stop_agent' EXIT
virsh dumpxml --inactive "$vm_name" | python3 -c '
import sys, xml.etree.ElementTree as ET
name, vda, vdb, console = sys.argv[1:5]
dom = ET.fromstring(sys.stdin.read())
dom.find("name").text = name
dom.remove(dom.find("uuid"))
devices = dom.find("devices")
for el in devices.iter():
    for child in list(el):
        if child.tag == "address":
            el.remove(child)
disk = devices.find("disk")
disk.find("source").set("file", vda)
second = ET.fromstring(ET.tostring(disk))
second.find("source").set("file", vdb)
second.find("target").set("dev", "vdb")
devices.insert(list(devices).index(disk) + 1, second)
for serial in devices.findall("serial"):
    serial.find("source").set("path", console)
print(ET.tostring(dom, encoding="unicode"))
' "$two_name" "$two_vda" "$two_vdb" "$GDR_LAB_DIR/vms/$two_name.console" >"$GDR_LAB_DIR/vms/$two_name.xml"
virsh -q create "$GDR_LAB_DIR/vms/$two_name.xml" >/dev/null || fail "cannot start the two-disk VM"
two=$(virsh domuuid "$two_name")
two_chain() { virsh dumpxml "$two_name" | grep -c '<source file=' || true; }
[ "$(two_chain)" = 2 ] || fail "the two-disk VM does not have two disks"
out=$(client VM snapshot vmID="$two")
[ "$(json_get 'len(d["disks"])' <<<"$out")" = 2 ] || fail "not both disks snapshotted: $out"
[ "$(two_chain)" = 4 ] || fail "the two-disk VM's chains are not base + overlay each"
merge_jobs=()
for drive in vda vdb; do
  merge_jobs+=("$(client VM merge vmID="$two" drive=$drive deleteTop=true | json_get 'd["jobId"]')")
done
for job in "${merge_jobs[@]}"; do
  state=$(wait_job "$job" 30)
  [ "$state" = DONE ] || fail "merge $job ended $state: $(client Host getJobs)"
done
[ "$(two_chain)" = 2 ] || fail "the two-disk VM is not back on one image per disk"
[ -z "$(ls "$two_dir"/.gdr-snapshots/"$two_name"* 2>/dev/null)" ] || fail "overlays of the two-disk VM left behind"
two_cleanup
trap stop_agent EXIT
note "ok"
