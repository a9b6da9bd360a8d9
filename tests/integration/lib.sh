# Shared by the integration tests: the lab's environment and assertions.
# Tests exit 77 (reported by CTest as skipped, never as passed) only when
# this host cannot run the lab; with GDR_REQUIRE_LAB=1 (CI) they fail.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
LAB="$ROOT/scripts/lab"
source "$ROOT/bench/lib.sh"  # gdr_files and flatten_lab_vms_with_agent, shared with the benchmarks

# A failure says what, and the end of the agent's log when there is one.
fail() {
  echo "FAIL: $*" >&2
  if [ -n "${AGENT_DIR:-}" ] && [ -s "$AGENT_DIR/agent.log" ]; then
    echo "--- the end of the agent's log:" >&2
    tail -n 60 "$AGENT_DIR/agent.log" >&2
  fi
  exit 1
}
# Each note says when, in seconds since the test began (where its time goes).
note() { echo "--- [${SECONDS}s] $*"; }

# require_lab [SCRIPT [up|env]]: the lab SCRIPT brings up (scripts/lab, or
# scripts/lab-sites for the two-site lab) can run here, its environment is
# loaded and (unless env: a test after a disaster checks what it needs
# itself) every component is up.
require_lab() {
  local script=${1:-$LAB} want=${2:-up} why
  if ! why=$("$script" can-run); then
    if [ "${GDR_REQUIRE_LAB:-0}" = 1 ]; then fail "$(basename "$script") is required here but cannot run: $why"; fi
    echo "SKIPPED: this host cannot run $(basename "$script") ($why)" >&2
    exit 77
  fi
  eval "$("$script" env)"
  [ "$want" = env ] && return
  # A guest can pause for a few seconds when gluster is busy (a previous
  # test restarted glusterd): look twice before calling the lab down.
  "$script" status >/dev/null || { sleep 5; "$script" status; } || fail "$(basename "$script") is not up"
}

# The two-site lab (scripts/lab-sites), as SITES; require_sites env: its
# environment only.
require_sites() {
  SITES="$ROOT/scripts/lab-sites"
  require_lab "$SITES" "${1:-up}"
}

georep() { gluster --mode=script volume geo-replication "$GDR_LAB_PRIMARY" "$GDR_LAB_SECONDARY_URL" "$@"; }

# Sets a checkpoint, starts the session and waits until every worker has
# completed it; stops the session afterwards. Like the agent's sync job, it
# restarts the session once when last synced stays still for 30 s: after a
# stop/start a worker here can sit in Changelog Crawl processing nothing.
georep_checkpoint_sync() { # georep_checkpoint_sync TIMEOUT_SECONDS
  local limit=$1 xml i synced last_synced="" still=0 restarted=0
  georep stop >/dev/null 2>&1 || true
  georep config checkpoint now >/dev/null
  georep start >/dev/null
  for ((i = 0; i < limit; i++)); do
    sleep 1
    xml=$(georep status detail --xml)
    if grep -q '<checkpoint_completed>Yes' <<<"$xml" && ! grep -q '<checkpoint_completed>No' <<<"$xml"; then
      georep stop >/dev/null
      return 0
    fi
    synced=$(grep -o '<last_synced>[^<]*' <<<"$xml" | sort | tail -1)
    if [ "$synced" = "$last_synced" ]; then still=$((still + 1)); else still=0; last_synced=$synced; fi
    if [ "$still" -ge 30 ] && [ "$restarted" = 0 ]; then
      echo "georep_checkpoint_sync: no progress for 30 s; restarting the session" >&2
      georep stop >/dev/null 2>&1 || true
      georep start >/dev/null
      restarted=1
      still=0
    fi
  done
  echo "$xml" >&2
  georep stop >/dev/null 2>&1 || true
  fail "checkpoint not completed within ${limit}s"
}

guest_progress() {
  grep -a -o 'gdr-guest: wrote [0-9]*' "$GDR_LAB_DIR/vms/$1.console" | tail -1 | awk '{print $3}'
}

BIN=${GDR_BIN_DIR:-$ROOT/build/bin}

# Starts gdr-agent on a temporary socket and state dir; stopped by pid
# when the test exits. Sets AGENT_SOCK, AGENT_DIR, AGENT_PID. It receives
# gluster's events on the lab's webhook address.
# It also serves mutual TLS on AGENT_URL (https://127.0.0.1:PORT), with
# certificates from scripts/pki: TLS_ARGS are a client's flags for it.
start_agent() {
  AGENT_DIR=$(mktemp -d /tmp/gdr-itest-XXXXXX)
  AGENT_SOCK=$AGENT_DIR/agent.sock
  trap stop_agent EXIT
  "$ROOT/scripts/pki" "$AGENT_DIR/pki" gdr-sync >/dev/null
  AGENT_PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  AGENT_URL=https://127.0.0.1:$AGENT_PORT
  TLS_ARGS=(--cafile "$AGENT_DIR/pki/ca.crt" --cert "$AGENT_DIR/pki/gdr-sync.crt" --key "$AGENT_DIR/pki/gdr-sync.key")
  launch_agent "$@"
  put_lab_back
}

# A test CTest stopped at its timeout ran no exit trap: what it left on the
# one-host lab (a third VM, VMs on their overlays) would fail every test
# after it. Put back, and said, before this one begins.
put_lab_back() {
  local vm top names
  names=$(virsh list --all --name)  # read whole: grep -q would cut virsh off (pipefail)
  if grep -q '^gdr-lab-vm\([3-9]\|[1-9][0-9]\)$' <<<"$names"; then
    note "a test before this one left VMs beyond the lab's two: removed"
    "$LAB" shrink --vms 2 >/dev/null
    eval "$("$LAB" env)"
  fi
  for vm in $(virsh list --name | grep '^gdr-lab-vm'); do
    top=$(virsh domblklist "$vm" | awk '$1 == "vda" {print $2}')
    case "$top" in
      */.gdr-snapshots/*)
        note "a test before this one left $vm on $top: merged back"
        gdr_files >"$AGENT_DIR/gdr-files"
        flatten_lab_vms "$AGENT_DIR/gdr-files"
        return ;;
    esac
  done
}

# (Re)launches the agent on AGENT_SOCK and AGENT_DIR's state; waits until
# it answers.
launch_agent() {
  "$BIN/gdr-agent" --config /dev/null --listen "unix:$AGENT_SOCK" --state-dir "$AGENT_DIR/state" \
    --listen "$AGENT_URL" --tls-cert "$AGENT_DIR/pki/agent.crt" --tls-key "$AGENT_DIR/pki/agent.key" \
    --tls-ca "$AGENT_DIR/pki/ca.crt" --tls-allowed-clients gdr-sync \
    --log-file "$AGENT_DIR/agent.log" --check-results yes --delete-volumes "$GDR_LAB_SECONDARY" \
    ${GDR_LAB_EVENTS_LISTEN:+--events-listen "$GDR_LAB_EVENTS_LISTEN"} "$@" &
  AGENT_PID=$!
  local i
  for ((i = 0; i < 100; i++)); do
    "$BIN/gdr-client" -s "$AGENT_SOCK" Host ping >/dev/null 2>&1 && return 0
    kill -0 "$AGENT_PID" 2>/dev/null || break
    sleep 0.1
  done
  fail "gdr-agent did not come up: $(cat "$AGENT_DIR/agent.log")"
}

# kill -9, then the same agent again: its jobs are recovered from the state dir.
crash_and_relaunch_agent() {
  kill -9 "$AGENT_PID"
  wait "$AGENT_PID" 2>/dev/null || true
  launch_agent
}

# Stops the agent process (SIGTERM) and keeps its state dir.
stop_agent_process() {
  if [ -n "${AGENT_PID:-}" ] && kill -0 "$AGENT_PID" 2>/dev/null; then
    kill -TERM "$AGENT_PID"
    wait "$AGENT_PID" || true
  fi
  AGENT_PID=
}

stop_agent() {
  stop_agent_process
  [ -n "${AGENT_DIR:-}" ] && rm -rf "$AGENT_DIR"
}

client() { "$BIN/gdr-client" -s "$AGENT_SOCK" "$@"; }

# expect_error CODE COMMAND...: the call fails with this agent status code.
expect_error() {
  local code=$1 out; shift
  if out=$("$@" 2>&1); then fail "expected error $code, but it succeeded: $*"; fi
  [[ "$out" == "$code: "* ]] || fail "expected error $code from: $* -- got: $out"
}

job_field() { client Host getJobs | json_get "d['jobs']['$1']$2"; }

# await_job_state ID STATE SECONDS: polls until the job is in STATE (or the
# time is up); prints the state it saw last.
await_job_state() {
  local i state
  for ((i = 0; i < $3 * 10; i++)); do
    state=$(job_field "$1" "['state']")
    [ "$state" = "$2" ] && break
    sleep 0.1
  done
  echo "$state"
}

wait_job() { # wait_job ID SECONDS -> prints the final state, or TIMEOUT
  local i state
  for ((i = 0; i < $2 * 5; i++)); do
    state=$(job_field "$1" "['state']")
    case "$state" in DONE | FAILED | ABORTED) echo "$state"; return 0 ;; esac
    sleep 0.2
  done
  echo "TIMEOUT"
}

# flatten_lab_vms BEFORE: back to the flat layout after delta-layout
# cycles: the session those cycles left running stopped (the merges rewrite
# the bases), then bench/lib.sh's flatten_lab_vms_with_agent through the
# running agent (gdr_files, there, lists what BEFORE holds).
flatten_lab_vms() {
  georep stop >/dev/null 2>&1 || true
  flatten_lab_vms_with_agent "$1"
}

# domstate HOST VM: libvirt's state of VM on HOST, one word ("running"), read
# whole: a `| grep -q` that leaves early can SIGPIPE the writer, and with
# pipefail a check fails on a VM in the right state.
domstate() { "$SITES" on "$1" virsh -c qemu:///system domstate "$2" 2>/dev/null | head -n 1 | tr -d ' ' || true; }
# volume_option HOST VOLUME OPTION: its value as glusterd on HOST has it.
volume_option() {
  "$SITES" on "$1" gluster --mode=script volume get "$2" "$3" 2>/dev/null | awk -v o="$3" '$1 == o { print $2 }' || true
}

# primary_replicas TEXT: for a failure that names files of the two-site
# primary, what each brick holds of them (size, shard-size xattr, AFR's
# pending markers) and what gluster's heal info lists; reads only.
primary_replicas() {
  local rel host brick gfid shards
  "$SITES" on p1 gluster --mode=script volume heal "$GDR_SITES_PRIMARY" info 2>&1 | grep -E '^(Brick|Number)' || true
  grep -oE "images/[^' ]+\.qcow2" <<<"$1" | sort -u | while read -r rel; do
    for host in p1 p2 p3; do
      brick="$GDR_SITES_DIR/hosts/$host/bricks/$GDR_SITES_PRIMARY"
      echo "$host $rel: $(stat -c '%s bytes, modified %y' "$brick/$rel" 2>&1)"
      getfattr --absolute-names -d -m 'trusted\.(afr|gfid$|glusterfs\.shard)' -e hex "$brick/$rel" 2>&1 |
        grep -v '^#' | sed '/^$/d;s/^/    /'
      # Its shards on this brick, "N SIZE" each, and a digest to compare.
      gfid=$(getfattr --absolute-names -n trusted.gfid -e hex "$brick/$rel" 2>/dev/null |
        sed -nE 's/^trusted.gfid=0x(.{8})(.{4})(.{4})(.{4})(.{12})$/\1-\2-\3-\4-\5/p')
      [ -n "$gfid" ] || continue
      shards=$(find "$brick/.shard" -name "$gfid.*" -printf '%f %s\n' 2>/dev/null | sed "s/^$gfid\.//" | sort -n)
      echo "    shards: $(wc -l <<<"$shards"), digest $(md5sum <<<"$shards" | cut -c1-12): $(tr '\n' ' ' <<<"$shards" | cut -c1-400)"
    done
  done
}

json_get() { # json_get EXPR < json  (EXPR in Python, the document is 'd')
  python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"
}

# overlay_image HOST MANIFEST MOUNT OVERLAY VM: what QEMU reads of VM's vda
# on HOST after a failover: its OVERLAY (volume-relative, on MOUNT) over the
# point's chain (MANIFEST), as an image name lab-check-consistency opens.
overlay_image() {
  local host=$1 manifest=$2 mount=$3 overlay=$4 vm=$5 chain
  chain=$("$SITES" on "$host" python3 "$ROOT/scripts/lab-point-image" "$manifest" "$mount" |
    awk -v n="$vm" '$1 == n && $2 == "vda" { print $3 }')
  python3 -c 'import json,sys
chain = sys.argv[2][5:] if sys.argv[2].startswith("json:") else None
backing = json.loads(chain) if chain else {"driver": "qcow2", "file": {"driver": "file", "filename": sys.argv[2]}}
print("json:" + json.dumps({"driver": "qcow2", "file": {"driver": "file", "filename": sys.argv[1]}, "backing": backing}))' \
    "$mount/$overlay" "$chain"
}
