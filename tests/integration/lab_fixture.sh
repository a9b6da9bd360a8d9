#!/bin/bash
# CTest fixture: brings the lab up fresh before the integration tests
# (setup) and takes it down after them (cleanup).
source "$(dirname "$0")/lib.sh"
case "${1:-}" in
  setup)
    if ! why=$("$LAB" can-run); then
      [ "${GDR_REQUIRE_LAB:-0}" = 1 ] && fail "the lab is required here but cannot run: $why"
      echo "SKIPPED: this host cannot run the lab ($why); integration tests will be skipped" >&2
      exit 77
    fi
    "$LAB" down --purge
    start=$SECONDS
    "$LAB" up
    echo "lab up took $((SECONDS - start)) s"
    "$LAB" status
    ;;
  cleanup)
    "$LAB" can-run >/dev/null || exit 77
    "$LAB" down --purge
    ;;
  *) fail "usage: lab_fixture.sh setup|cleanup" ;;
esac
