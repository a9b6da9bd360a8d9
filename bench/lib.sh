# Helpers of the lab benchmarks (sourced; the caller defines client()).

# await_job JOB INTERVAL: polls Host.getJobs every INTERVAL seconds until the
# job ends and prints its JSON; fails, JSON on stderr, unless it ended DONE.
# grep rather than python: on 2 cores a busy poller slows what is measured.
await_job() {
  local out
  while :; do
    out=$(client Host getJobs jobIds="[\"$1\"]")
    case "${out// /}" in
      *'"state":"DONE"'*) echo "$out"; return 0 ;;
      *'"state":"FAILED"'* | *'"state":"ABORTED"'*) echo "job $1 failed: $out" >&2; return 1 ;;
    esac
    sleep "$2"
  done
}

# median VALUE...: their median, three decimals.
median() { python3 -c 'import statistics,sys; print("%.3f" % statistics.median(float(x) for x in sys.argv[1:]))' "$@"; }
