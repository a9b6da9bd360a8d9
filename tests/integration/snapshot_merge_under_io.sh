#!/bin/bash
# With a lab guest writing, an external disk-only snapshot freezes a
# crash-consistent base; an active blockcommit with pivot merges the
# overlay back; the guest keeps writing throughout. Driven by virsh.
source "$(dirname "$0")/lib.sh"
require_lab

vm=${GDR_LAB_VMS%%,*}
base=${GDR_LAB_DISKS%%,*}
overlay="$(dirname "$base")/.gdr-test-overlay-$$.qcow2"
trap 'rm -f "$overlay"' EXIT

before=$(guest_progress "$vm")
t0=$(date +%s.%N)
virsh -q snapshot-create-as "$vm" --disk-only --atomic --no-metadata --diskspec "vda,file=$overlay" >/dev/null
note "snapshot took $(echo "$(date +%s.%N) - $t0" | bc 2>/dev/null || echo '?') s"
[ "$(virsh domblklist "$vm" | awk '$1 == "vda" {print $2}')" = "$overlay" ] || fail "vda is not on the overlay"

sleep 3
# The base is frozen now: it must be a crash-consistent prefix.
report=$("$LAB" check-consistency "$base") || fail "base not consistent after snapshot: $report"
frozen=$(sed -n 's/.*"records": \([0-9]*\).*/\1/p' <<<"$report")
note "frozen base: $report"
[ "$frozen" -gt 0 ] || fail "the frozen base holds no records"
[ "$frozen" -ge "${before:-0}" ] || fail "the base lost records: $frozen < $before"

during=$(guest_progress "$vm")
[ "$during" -gt "${before:-0}" ] || fail "the guest stopped writing after the snapshot"

t0=$(date +%s.%N)
virsh -q blockcommit "$vm" vda --active --pivot --wait >/dev/null || fail "blockcommit failed"
note "blockcommit --active --pivot took $(echo "$(date +%s.%N) - $t0" | bc 2>/dev/null || echo '?') s"
[ "$(virsh domblklist "$vm" | awk '$1 == "vda" {print $2}')" = "$base" ] || fail "vda did not pivot back to the base"
chain=$(virsh dumpxml "$vm" | grep -c '<source file=' || true)
[ "$chain" = 1 ] || fail "the chain still has $chain images"

sleep 2
after=$(guest_progress "$vm")
[ "$after" -gt "$during" ] || fail "the guest stopped writing after the merge"

# Pause the guest so the image is stable while it is read.
virsh -q suspend "$vm" >/dev/null
report=$("$LAB" check-consistency "$base") || { virsh -q resume "$vm"; fail "merged base not consistent: $report"; }
virsh -q resume "$vm" >/dev/null
merged=$(sed -n 's/.*"records": \([0-9]*\).*/\1/p' <<<"$report")
note "merged base: $report"
[ "$merged" -gt "$frozen" ] || fail "the merged base lacks the overlay's records ($merged <= $frozen)"
