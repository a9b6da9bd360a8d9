#!/bin/bash
# A geo-replication checkpoint cycle copies files written on the primary
# to the secondary byte for byte. A sync method that creates empty files
# (or drops the shard size) fails here.
source "$(dirname "$0")/lib.sh"
require_lab

dir=georep-test-$$
mkdir -p "$GDR_LAB_PRIMARY_MOUNT/$dir"
# Sizes around the shard size (4 MiB in the lab): inside one shard, exactly
# one, and several.
sizes=(1 4095 1048576 4194304 4194305 13631489)
for s in "${sizes[@]}"; do
  head -c "$s" /dev/urandom >"$GDR_LAB_PRIMARY_MOUNT/$dir/file-$s"
done
(cd "$GDR_LAB_PRIMARY_MOUNT/$dir" && sha256sum file-*) >"/tmp/$dir.primary"

start=$SECONDS
georep_checkpoint_sync 180
note "checkpoint completed in $((SECONDS - start)) s"

# A fresh mount of the secondary, so nothing is served from a cache.
mnt=$(mktemp -d)
mount -t glusterfs -o ro "$GDR_LAB_HOST:/$GDR_LAB_SECONDARY" "$mnt"
trap '{ umount "$mnt" || umount -l "$mnt"; } 2>/dev/null || true; rmdir "$mnt" 2>/dev/null || true; rm -f /tmp/$dir.*' EXIT
(cd "$mnt/$dir" && sha256sum file-*) >"/tmp/$dir.secondary" || fail "files missing on the secondary"
if ! diff "/tmp/$dir.primary" "/tmp/$dir.secondary"; then
  ls -l "$mnt/$dir" >&2
  fail "the secondary's copies differ from the primary's"
fi
for s in "${sizes[@]}"; do
  [ "$(stat -c %s "$mnt/$dir/file-$s")" = "$s" ] || fail "file-$s has the wrong size on the secondary"
done
rm -rf "${GDR_LAB_PRIMARY_MOUNT:?}/$dir"
note "${#sizes[@]} files identical on the secondary"
