# Shared by the integration tests: the lab's environment and assertions.
# Tests exit 77 (reported by CTest as skipped, never as passed) only when
# this host cannot run the lab; with GDR_REQUIRE_LAB=1 (CI) they fail.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
LAB="$ROOT/scripts/lab"

fail() { echo "FAIL: $*" >&2; exit 1; }
note() { echo "--- $*"; }

require_lab() {
  local why
  if ! why=$("$LAB" can-run); then
    if [ "${GDR_REQUIRE_LAB:-0}" = 1 ]; then fail "the lab is required here but cannot run: $why"; fi
    echo "SKIPPED: this host cannot run the lab ($why)" >&2
    exit 77
  fi
  eval "$("$LAB" env)"
  "$LAB" status >/dev/null || { "$LAB" status; fail "the lab is not up"; }
}

georep() { gluster --mode=script volume geo-replication "$GDR_LAB_PRIMARY" "$GDR_LAB_SECONDARY_URL" "$@"; }

# Sets a checkpoint, starts the session and waits until every worker has
# completed it; stops the session afterwards.
georep_checkpoint_sync() { # georep_checkpoint_sync TIMEOUT_SECONDS
  local limit=$1 xml i
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
  done
  echo "$xml" >&2
  georep stop >/dev/null 2>&1 || true
  fail "checkpoint not completed within ${limit}s"
}

guest_progress() {
  grep -a -o 'gdr-guest: wrote [0-9]*' "$GDR_LAB_DIR/vms/$1.console" | tail -1 | awk '{print $3}'
}
