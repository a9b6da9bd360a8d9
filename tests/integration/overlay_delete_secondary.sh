#!/bin/bash
# GlusterVolume.overlayDelete / fileStat / imageInfo through a running
# agent, against the lab's secondary volume while its geo-replication
# session exists (features.read-only on): real overlays are deleted, every
# guard refuses and deletes nothing, absent files are idempotent, 100
# deletions from 8 clients in parallel, and a glusterd restart between two
# calls.
source "$(dirname "$0")/lib.sh"
require_lab

[ "$(gluster --mode=script volume get "$GDR_LAB_SECONDARY" features.read-only | awk '$1 == "features.read-only" {print $2}')" = on ] ||
  fail "the secondary is not read-only: the test would prove nothing"

rel=images/odtest-$$
P=$GDR_LAB_PRIMARY_MOUNT/$rel
S=".gdr-snapshots"
mkdir -p "$P/$S/adir"
img() { qemu-img create -q -f qcow2 "$@"; }
img "$P/base.qcow2" 64M
img "$P/base2.qcow2" 64M
img -b "$P/base.qcow2" -F qcow2 "$P/$S/ovl.qcow2"            # absolute backing, as libvirt writes it
img -b ../base.qcow2 -F qcow2 "$P/$S/rel.qcow2"              # relative backing
img -b "$P/base2.qcow2" -F qcow2 "$P/$S/ovl-b2.qcow2"
img "$P/$S/plainbase.qcow2" 64M
img -b ../base.qcow2 -F qcow2 "$P/$S/chain1.qcow2"
img -b chain1.qcow2 -F qcow2 "$P/$S/chain2.qcow2"
img -b base.qcow2 -F qcow2 "$P/outside.qcow2"
ln -s ../base.qcow2 "$P/$S/link.qcow2"
echo "not an image" >"$P/$S/notqcow.txt"
for i in $(seq 1 100); do img -b ../base.qcow2 -F qcow2 "$P/$S/par-$i.qcow2"; done
trap 'rm -rf "$P"; stop_agent' EXIT
georep_checkpoint_sync 180

start_agent
V=(volfileServers='["'"$GDR_LAB_HOST"'"]' volumeName="$GDR_LAB_SECONDARY")
exists() { client GlusterVolume fileStat "${V[@]}" path="$1" >/dev/null 2>&1; }
exists "$rel/$S/ovl.qcow2" || fail "the overlay did not reach the secondary"

note "guards"
del() { client GlusterVolume overlayDelete "${V[@]}" "$@"; }
expect_error 3210 del paths='["../x"]'
expect_error 3210 del paths='["/'"$rel/$S"'/ovl.qcow2"]'
expect_error 3211 del paths='["'"$rel"'/outside.qcow2"]'
expect_error 3212 del paths='["'"$rel/$S"'/link.qcow2"]'
expect_error 3212 del paths='["'"$rel/$S"'/adir"]'
expect_error 3214 del paths='["'"$rel/$S"'/plainbase.qcow2"]'
expect_error 3213 del paths='["'"$rel/$S"'/notqcow.txt"]'
expect_error 3215 del paths='["'"$rel/$S"'/ovl-b2.qcow2"]' expectedBacking="$rel/base.qcow2"
expect_error 3216 del paths='["'"$rel/$S"'/chain1.qcow2"]'
# A valid overlay next to a refused one: the refusal wins, nothing goes.
expect_error 3214 del paths='["'"$rel/$S"'/ovl.qcow2", "'"$rel/$S"'/plainbase.qcow2"]'
for f in "$S/link.qcow2" "$S/adir" "$S/plainbase.qcow2" "$S/notqcow.txt" "$S/ovl-b2.qcow2" "$S/chain1.qcow2" \
         "$S/ovl.qcow2" outside.qcow2 base.qcow2 base2.qcow2; do
  exists "$rel/$f" || fail "$f was deleted by a refused call"
done

note "delete a real overlay"
out=$(del paths='["'"$rel/$S"'/ovl.qcow2"]' expectedBacking="$rel/base.qcow2")
[ "$(json_get 'd["results"][0]["deleted"]' <<<"$out")" = True ] || fail "not deleted: $out"
[ "$(json_get 'd["sharded"]' <<<"$out")" = True ] || fail "sharding not reported: $out"
expect_error 3218 client GlusterVolume fileStat "${V[@]}" path="$rel/$S/ovl.qcow2"
info=$(client GlusterVolume imageInfo "${V[@]}" path="$rel/base.qcow2")
[ "$(json_get 'd["backingFile"]' <<<"$info")" = None ] || fail "base has a backing file: $info"
[ "$(json_get 'd["virtualSize"]' <<<"$info")" = $((64 << 20)) ] || fail "base has the wrong size: $info"
out=$(del paths='["'"$rel/$S"'/ovl.qcow2"]')
[ "$(json_get 'd["results"][0]["reason"]' <<<"$out")" = absent ] || fail "a second delete is not idempotent: $out"
out=$(del paths='["'"$rel/$S"'/rel.qcow2"]' expectedBacking="$rel/base.qcow2")
[ "$(json_get 'd["results"][0]["deleted"]' <<<"$out")" = True ] || fail "relative-backed overlay not deleted: $out"

note "100 deletions from 8 clients in parallel"
pids=()
for c in $(seq 0 7); do
  (
    for i in $(seq $((c + 1)) 8 100); do
      out=$(del paths='["'"$rel/$S"'/par-'"$i"'.qcow2"]' expectedBacking="$rel/base.qcow2") || exit 1
      [ "$(json_get 'd["results"][0]["reason"]' <<<"$out")" = deleted ] || { echo "par-$i: $out" >&2; exit 1; }
    done
  ) &
  pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || fail "a parallel client failed"; done
for i in $(seq 1 100); do
  if exists "$rel/$S/par-$i.qcow2"; then fail "par-$i.qcow2 is still there"; fi
done

note "glusterd restarted between two calls"
"$LAB" restart-glusterd
out=$(del paths='["'"$rel/$S"'/chain2.qcow2"]' expectedBacking="$rel/$S/chain1.qcow2")
[ "$(json_get 'd["results"][0]["deleted"]' <<<"$out")" = True ] || fail "delete after the restart failed: $out"
exists "$rel/base.qcow2" || fail "the base vanished"

note "scoped: the primary is not deletable, volfile servers are those of known volumes, the pool is bounded"
expect_error 3220 client GlusterVolume overlayDelete volfileServers='["'"$GDR_LAB_HOST"'"]' \
  volumeName="$GDR_LAB_PRIMARY" paths='["'"$rel/$S"'/par-1.qcow2"]'
expect_error 3222 client GlusterVolume fileStat volfileServers='["127.9.9.9"]' volumeName="$GDR_LAB_SECONDARY" \
  path="$rel/base.qcow2"
stop_agent_process
launch_agent --gfapi-pool-max 1
for volume in "$GDR_LAB_PRIMARY" "$GDR_LAB_SECONDARY" "$GDR_LAB_PRIMARY"; do
  client GlusterVolume fileStat volfileServers='["'"$GDR_LAB_HOST"'"]' volumeName="$volume" path="$rel/base.qcow2" \
    >/dev/null || fail "fileStat on $volume with a pool of one failed"
done
stop_agent_process  # flushes its log
[ "$(grep -c 'to make room (gfapi_pool_max 1)' "$AGENT_DIR/agent.log")" = 2 ] ||
  fail "the pool did not stay at one connection: $(grep gfapi "$AGENT_DIR/agent.log")"
note "ok"
