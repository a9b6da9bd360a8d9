#!/bin/bash
# How fast the agent reads an image to compare the sites (printed, not
# asserted): GlusterVolume.fileChecksum on the lab's primary, through the
# agent, over a file of MIB MiB of random data (default 512), median of
# RUNS calls each:
#   full    every byte, a digest per 4 MiB stride (`--verify full`, and
#           every delta in every mode);
#   shards  64 KiB of every 4 MiB (`--verify shards`, the manifests);
#   whole   one digest of every byte (no strides);
#   fuse    the same file read once by dd through the lab's FUSE mount
#           (O_DIRECT, 4 MiB blocks), for scale.
# Needs the lab (scripts/bench checksum brings it up).
#   bench/checksum_bench.sh [MIB]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${GDR_BIN_DIR:-$ROOT/build/bin}
MIB=${1:-512}
RUNS=${RUNS:-3}
eval "$("$ROOT/scripts/lab" env)"
source "$ROOT/bench/lib.sh"
dir=$(mktemp -d /tmp/gdr-checksum-bench-XXXXXX)
rel=gdr-checksum-bench-$$.img
agent=""
cleanup() {
  if [ -n "$agent" ]; then kill "$agent" 2>/dev/null || true; wait "$agent" 2>/dev/null || true; fi
  rm -f "$GDR_LAB_PRIMARY_MOUNT/$rel"
  rm -rf "$dir"
}
trap cleanup EXIT
client() { "$BIN/gdr-client" -s "$dir/agent.sock" "$@"; }
"$BIN/gdr-agent" --config /dev/null --listen "unix:$dir/agent.sock" --state-dir "$dir/state" \
  --log-file "$dir/agent.log" &
agent=$!
for _ in $(seq 100); do client Host ping >/dev/null 2>&1 && break; sleep 0.1; done

head -c "$((MIB << 20))" /dev/urandom >"$GDR_LAB_PRIMARY_MOUNT/$rel"
sync
V=(volfileServers="[\"$GDR_LAB_HOST\"]" volumeName="$GDR_LAB_PRIMARY" path="$rel")
timed() { # timed ARGS...: seconds of one fileChecksum call
  local start=$EPOCHREALTIME
  client GlusterVolume fileChecksum "${V[@]}" "$@" >/dev/null
  elapsed "$start" "$EPOCHREALTIME"
}
rate() { python3 -c "import sys; print('%.0f' % (float(sys.argv[1]) / float(sys.argv[2])))" "$1" "$2"; }
echo "fileChecksum on $GDR_LAB_PRIMARY, a file of $MIB MiB, median of $RUNS:"
printf '%-8s %10s %10s\n' mode seconds MB/s
for mode in full shards whole; do
  case $mode in
    full) args=(sampleStride=4194304 sampleLength=4194304) bytes=$((MIB << 20)) ;;
    shards) args=(sampleStride=4194304 sampleLength=65536) bytes=$((MIB * 65536 / 4)) ;;
    whole) args=() bytes=$((MIB << 20)) ;;
  esac
  times=()
  for _ in $(seq "$RUNS"); do times+=("$(timed "${args[@]}")"); done
  s=$(median "${times[@]}")
  printf '%-8s %10s %10s\n' "$mode" "$s" "$(rate "$((bytes / 1000000))" "$s")"
done
start=$EPOCHREALTIME
dd if="$GDR_LAB_PRIMARY_MOUNT/$rel" of=/dev/null bs=4M iflag=direct status=none
s=$(elapsed "$start" "$EPOCHREALTIME")
printf '%-8s %10s %10s\n' fuse "$s" "$(rate "$((MIB * 1048576 / 1000000))" "$s")"
