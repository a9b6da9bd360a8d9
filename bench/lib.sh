# Helpers of the lab benchmarks (sourced; the caller defines client()).
# shellcheck shell=bash

# await_job JOB INTERVAL [SECONDS]: polls Host.getJobs every INTERVAL
# seconds until the job ends (or SECONDS pass) and prints its JSON; fails,
# JSON on stderr, unless it ended DONE.
# grep rather than python: on 2 cores a busy poller slows what is measured.
await_job() {
  local out deadline=$((SECONDS + ${3:-999999}))
  while [ "$SECONDS" -lt "$deadline" ]; do
    out=$(client Host getJobs jobIds="[\"$1\"]") || { echo "job $1: the agent does not answer" >&2; return 1; }
    case "${out// /}" in
      *'"state":"DONE"'*) echo "$out"; return 0 ;;
      *'"state":"FAILED"'* | *'"state":"ABORTED"'*) echo "job $1 failed: $out" >&2; return 1 ;;
    esac
    sleep "$2"
  done
  echo "job $1 did not end within $3 s" >&2
  return 1
}

# elapsed T0 T1: seconds from T0 to T1 (both in seconds), three decimals.
elapsed() { python3 -c "print('%.3f' % ($2 - $1))"; }

# median VALUE...: their median, three decimals.
median() { python3 -c 'import statistics,sys; print("%.3f" % statistics.median(float(x) for x in sys.argv[1:]))' "$@"; }

# The manifests and definitions gdr keeps on the lab's primary, one per line
# (a benchmark removes those it made: the tests count the points).
gdr_files() {
  ls -d "$GDR_LAB_PRIMARY_MOUNT"/.gdr/points/*.json "$GDR_LAB_PRIMARY_MOUNT"/.gdr/vms/*.xml 2>/dev/null || true
}

# remove_gdr_files_since BEFORE: removes the manifests and definitions not
# listed in the file BEFORE (gdr_files' output when the benchmark began).
remove_gdr_files_since() {
  local f
  for f in $(gdr_files); do
    grep -qxF "$f" "$1" || rm -f "$f"
  done
}

# flatten_lab_vms_with_agent [BEFORE]: each running lab VM merged back
# into its base through the agent client() reaches (one merge per image of
# the chain a delta-layout cycle leaves), the lab's deltas that no VM uses
# removed, and with BEFORE (gdr_files' output when the run began) the
# manifests and definitions made since. The flat layout refuses a VM on a
# chain, so a run calls this between layouts and when it ends; a merge that
# does not start or end leaves that VM as it is.
flatten_lab_vms_with_agent() {
  local vm id top job inuse f
  for vm in $(virsh list --name | grep '^gdr-lab-vm'); do
    for _ in $(seq 34); do  # at most 32 deltas kept apart, and the overlay
      top=$(virsh domblklist "$vm" | awk '$1 == "vda" {print $2}')
      case "$top" in */.gdr-snapshots/*) ;; *) break ;; esac
      id=$(virsh domuuid "$vm")
      job=$(client VM merge vmID="$id" drive=vda deleteTop=true 2>/dev/null |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["jobId"])') || break
      await_job "$job" 0.2 300 >/dev/null || break
    done
  done
  inuse=$(for vm in $(virsh list --name); do virsh dumpxml "$vm"; done | grep -o "source file='[^']*'" || true)
  for f in "$GDR_LAB_PRIMARY_MOUNT"/images/.gdr-snapshots/gdr-lab-vm*.qcow2; do
    [ -e "$f" ] && [[ $inuse != *"'$f'"* ]] && rm -f "$f"
  done
  [ -z "${1:-}" ] || remove_gdr_files_since "$1"
}
