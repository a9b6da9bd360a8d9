#!/bin/bash
# CTest fixture: brings a lab up fresh before the integration tests
# (setup) and takes it down after them (cleanup). The lab is scripts/lab
# (one host), or the script named second (scripts/lab-sites: two sites).
#   lab_fixture.sh setup|cleanup [lab|lab-sites]
source "$(dirname "$0")/lib.sh"
LAB="$ROOT/scripts/${2:-lab}"
case "${1:-}" in
  setup)
    if ! why=$("$LAB" can-run); then
      [ "${GDR_REQUIRE_LAB:-0}" = 1 ] && fail "$(basename "$LAB") is required here but cannot run: $why"
      echo "SKIPPED: this host cannot run $(basename "$LAB") ($why); integration tests will be skipped" >&2
      exit 77
    fi
    "$LAB" down --purge
    start=$SECONDS
    "$LAB" up
    echo "$(basename "$LAB") up took $((SECONDS - start)) s"
    "$LAB" status
    ;;
  cleanup)
    "$LAB" can-run >/dev/null || exit 77
    "$LAB" down --purge
    ;;
  *) fail "usage: lab_fixture.sh setup|cleanup [lab|lab-sites]" ;;
esac
