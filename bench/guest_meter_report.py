#!/usr/bin/env python3
"""What the measuring guests (bench/guest_meter.c) saw, over a time window.

Inputs are the host's records, each line prefixed with the host's time
(seconds since the epoch) when it arrived:
  a console file per VM, named VM.lines: "TIME gdr-meter: t=.. n=.. bytes=.. max=.. maxat=.. stall=.. h=.."
  a states file:                          "TIME VM STATE" (libvirt's domstate, once a second)
  an events file:                         "TIME LINE" (virsh event's lifecycle lines)

A stall is the longest time a guest made no progress: the longest time
between two of its writes completing, as the guest timed it (stall=; max=
from guests that do not print it), or a pause libvirt reported (a paused
VM's clock stops, so only the host sees that one). A gap in the lines'
arrival is reported apart: it is mostly the console's own delay (up to
0.3 s here, under TCG), and past the bound it means a guest that stopped
reporting.

  guest_meter_report.py follow CONSOLE OUT
      appends each new line of CONSOLE to OUT, prefixed with its arrival time
  guest_meter_report.py states OUT VM...
      appends "TIME VM STATE" for each VM once a second (virsh domstate)
  guest_meter_report.py events OUT
      appends each lifecycle event of any VM (virsh event), however short
  guest_meter_report.py check DIR FROM TO [--max-stall SECONDS]
      JSON on stdout; exit 1 when a guest stalled longer than allowed, was
      ever not running, or reported nothing in the window.
  guest_meter_report.py bench RUN COUNT CYCLES VARIANT...
      the figures of scripts/bench guest for one VM count (bench/guest_bench.sh)
The recorders run until they are sent SIGTERM.
"""
import argparse
import datetime
import glob
import json
import os
import re
import signal
import subprocess
import sys
import time

BUCKETS = 24


def read_lines(path):
    """[(arrival, fields)] of one VM's meter lines, in arrival order."""
    rows = []
    with open(path, errors="replace") as f:
        for line in f:
            parts = line.split()
            if len(parts) < 3 or parts[1] != "gdr-meter:" or not parts[2].startswith("t="):
                continue
            try:
                fields = dict(p.split("=", 1) for p in parts[2:] if "=" in p)
                rows.append((float(parts[0]), {
                    "bytes": int(fields["bytes"]),
                    "writes": int(fields["n"]),
                    "max_us": int(fields["max"]),
                    "stall_us": int(fields.get("stall", fields["max"])),
                    "t_ms": int(fields["t"]),
                    "stall_at_ms": int(fields["stallat"]) if "stallat" in fields else None,
                    "histogram": [int(x) for x in fields["h"].split(",")],
                }))
            except (KeyError, ValueError):
                continue  # a line cut short on the console
    return rows


def read_meters(directory):
    return {os.path.basename(p)[:-len(".lines")]: read_lines(p) for p in sorted(glob.glob(directory + "/*.lines"))}


def read_states(path):
    states = []
    if os.path.exists(path):
        with open(path, errors="replace") as f:
            for line in f:
                parts = line.split(None, 2)
                if len(parts) == 3:
                    states.append((float(parts[0]), parts[1], parts[2].strip()))
    return states


def read_pauses(path):
    """{vm: [(from, to)]}: the pauses libvirt's lifecycle events show; a pause
    not over yet ends at +inf."""
    pauses, since = {}, {}
    if not os.path.exists(path):
        return pauses
    with open(path, errors="replace") as f:
        for line in f:
            m = re.match(r"(\S+) .*event 'lifecycle' for domain '?([^':]+)'?: (\w+)", line)
            if not m:
                continue
            t, vm, event = float(m.group(1)), m.group(2), m.group(3)
            if event == "Suspended":
                since.setdefault(vm, t)
            elif vm in since:
                pauses.setdefault(vm, []).append((since.pop(vm), t))
    for vm, t in since.items():
        pauses.setdefault(vm, []).append((t, float("inf")))
    return pauses


def stall_span(arrival, fields):
    """(from, to) in the host's time of the stall a line reports: placed by
    its stallat, counted back from the line's arrival on the guest's clock;
    a line without stallat: its whole second."""
    if fields.get("stall_at_ms") is None:
        return arrival - 1.0, arrival
    begin = arrival - (fields["t_ms"] - fields["stall_at_ms"]) / 1000.0
    return begin, begin + fields["stall_us"] / 1e6


def stall_near(meters, pauses, start, end):
    """The longest stall that overlaps [start, end]: a line's own (placed by
    stall_span) or a pause libvirt reported."""
    longest = 0.0
    for vm, rows in meters.items():
        for arrival, f in rows:
            a, b = stall_span(arrival, f)
            if a < end and b > start:
                longest = max(longest, f["stall_us"] / 1e6)
        longest = max(longest, longest_pause(pauses.get(vm, []), start, end))
    return longest


def longest_pause(pauses, start, end):
    """The longest pause overlapping [start, end], clipped to it."""
    return max((min(b, end) - max(a, start) for a, b in pauses if a < end and b > start), default=0.0)


def percentile_us(histogram, percent):
    """The upper bound of the bucket holding that percentile, in microseconds."""
    total = sum(histogram)
    if not total:
        return 0
    seen = 0
    for i, n in enumerate(histogram):
        seen += n
        if seen * 100 >= total * percent:
            return 2 << i
    return 2 << (len(histogram) - 1)


def in_window(rows, start, end):
    """The lines whose second, (arrival - 1, arrival], overlaps [start, end]."""
    return [r for r in rows if r[0] > start and r[0] - 1 < end]


def longest_gap(rows, start, end):
    """The longest stretch of [start, end] with no line arriving, less the
    second a line covers: 0 for a guest that reports every second."""
    times = [t for t, _ in rows]
    before = [t for t in times if t <= start]
    inside = [t for t in times if start < t <= end]
    after = [t for t in times if t > end]
    points = ([before[-1]] if before else [start]) + inside + ([after[0]] if after else [end])
    gap = max((b - a for a, b in zip(points, points[1:])), default=end - start)
    return max(0.0, gap - 1.0)


def summarize(meters, states, start, end, pauses=None):
    pauses = pauses or {}
    vms = {}
    for vm, rows in meters.items():
        inside = in_window(rows, start, end)
        histogram = [0] * BUCKETS
        for _, f in inside:
            for i, n in enumerate(f["histogram"][:BUCKETS]):
                histogram[i] += n
        slowest = max((f["max_us"] for _, f in inside), default=0) / 1e6
        progress = max((f["stall_us"] for _, f in inside), default=0) / 1e6
        paused = longest_pause(pauses.get(vm, []), start, end)
        gap = longest_gap(rows, start, end)
        # Full seconds only (a line that arrived wholly inside the window).
        full = [f for t, f in inside if start <= t - 1 and t <= end]
        vms[vm] = {
            "lines": len(inside),
            "stallSeconds": round(max(progress, paused), 3),
            "slowestWriteSeconds": round(slowest, 3),
            "pausedSeconds": round(paused, 3),
            "longestGapSeconds": round(gap, 3),
            "mibPerSecond": round(sum(f["bytes"] for f in full) / len(full) / 2**20, 3) if full else 0.0,
            "latencyUs": {"p50": percentile_us(histogram, 50), "p99": percentile_us(histogram, 99),
                          "max": max((f["max_us"] for _, f in inside), default=0)},
        }
    seen = [s for s in states if start <= s[0] <= end]
    return {
        "from": start,
        "to": end,
        "vms": vms,
        "stallSeconds": max((v["stallSeconds"] for v in vms.values()), default=0.0),
        "stateSamples": len(seen),
        "notRunning": sorted({"%s %s" % (vm, state) for _, vm, state in seen if state != "running"}),
    }


def check(args):
    summary = summarize(read_meters(args.dir), read_states(args.dir + "/states"), args.start, args.end,
                        read_pauses(args.dir + "/events"))
    problems = []
    if not summary["vms"]:
        problems.append("no measuring guest's console")
    for vm, v in summary["vms"].items():
        if v["lines"] == 0:
            problems.append("%s reported nothing" % vm)
        if v["stallSeconds"] > args.max_stall:
            problems.append("%s stalled %.1f s" % (vm, v["stallSeconds"]))
        elif v["longestGapSeconds"] > args.max_stall:
            problems.append("%s stopped reporting for %.1f s" % (vm, v["longestGapSeconds"]))
    if summary["stateSamples"] == 0:
        problems.append("no libvirt state was sampled")
    problems += ["not running: " + s for s in summary["notRunning"]]
    summary["problems"] = problems
    json.dump(summary, sys.stdout, indent=2, sort_keys=True)
    print()
    return 1 if problems else 0


def follow(args):
    """tail -F with a timestamp, in one process the caller stops by pid."""
    with open(args.out, "a", buffering=1) as out:
        while not os.path.exists(args.console):
            time.sleep(0.05)
        with open(args.console, "rb") as console:
            console.seek(0, os.SEEK_END)
            pending = b""
            while True:
                chunk = console.readline()
                if not chunk:
                    time.sleep(0.02)
                    continue
                pending += chunk
                if pending.endswith(b"\n"):
                    text = pending.decode(errors="replace").rstrip("\r\n")
                    out.write("%.3f %s\n" % (time.time(), text))
                    pending = b""


def states(args):
    with open(args.out, "a", buffering=1) as out:
        while True:
            tick = time.time()
            for vm in args.vms:
                result = subprocess.run(["virsh", "-q", "domstate", vm], capture_output=True, text=True)
                state = (result.stdout.strip() or result.stderr.strip() or "unknown").splitlines()[0]
                out.write("%.3f %s %s\n" % (time.time(), vm, state))
            time.sleep(max(0.0, 1.0 - (time.time() - tick)))


def events(args):
    """virsh event's lines, stamped on arrival. virsh is this process's child,
    stopped with it: the caller knows only this pid."""
    child = subprocess.Popen(["virsh", "event", "--loop", "--event", "lifecycle"],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1)
    signal.signal(signal.SIGTERM, lambda *_: (child.terminate(), child.wait(), sys.exit(0)))
    with open(args.out, "a", buffering=1) as out:
        for line in child.stdout:
            out.write("%.3f %s\n" % (time.time(), line.rstrip("\n")))
    return child.wait()


def bench(args):
    """What scripts/bench guest prints for one VM count: its run directory
    holds the recorders' files, the agent's log, "baseline" (FROM TO) and
    vV-cC.json, gdr-sync's report of cycle C of variant V."""
    run, count, cycles, variants = args.run, args.count, args.cycles, args.variants
    meters = read_meters(run)
    states = read_states(run + "/states")
    pauses = read_pauses(run + "/events")
    base_from, base_to = map(float, open(run + "/baseline").read().split())
    base = summarize(meters, states, base_from, base_to, pauses)
    base_rate = sum(v["mibPerSecond"] for v in base["vms"].values()) / max(1, len(base["vms"]))

    # The agent's state changes: a merge's PIVOT, from entering it to leaving it.
    pivots = []
    entered = {}
    for line in open(run + "/agent.log", errors="replace"):
        m = re.match(r"(\S+ \S+) \S+ \[\d+\] job (\S+) \((?:vm\.)?merge\): (\S+) -> (\S+)", line)
        if not m:
            continue
        t = datetime.datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S.%f").timestamp()
        if m.group(4) == "PIVOT":
            entered[m.group(2)] = t
        elif m.group(3) == "PIVOT" and m.group(2) in entered:
            pivots.append((entered.pop(m.group(2)), t))

    def latency(summary):
        vms = summary["vms"].values()
        return "p50 <%d us, p99 <%d us, max %.1f ms" % (
            max((v["latencyUs"]["p50"] for v in vms), default=0), max((v["latencyUs"]["p99"] for v in vms), default=0),
            max((v["latencyUs"]["max"] for v in vms), default=0) / 1000)

    print("%d measuring VM%s (with the lab's 2 record writers), %d cycles per variant" % (count, "s" if count > 1 else "", cycles))
    print("  baseline %.0f s: %.2f MiB/s per VM; write latency %s; longest stall %.3f s;"
          " longest gap between console lines %.3f s" % (
              base_to - base_from, base_rate, latency(base), base["stallSeconds"],
              max((v["longestGapSeconds"] for v in base["vms"].values()), default=0)))
    for v, variant in enumerate(variants, 1):
        stall = {"snapshot": 0.0, "pivot": 0.0, "elsewhere": 0.0, "cycle": 0.0}
        merge_mib = merge_secs = 0.0
        durations, failed, samples, not_running, pivoted = [], 0, 0, set(), 0
        paused, gap = 0, 0.0  # pauses libvirt reported; the longest gap in the console lines
        short_mib, short_secs, short_merges = 0.0, 0, 0  # merges under 2 s: the seconds they overlap
        histogram, slowest = [0] * BUCKETS, 0
        for path in sorted(glob.glob("%s/v%d-c*.json" % (run, v))):
            try:
                r = json.load(open(path))
            except ValueError:
                failed += 1
                continue
            if r.get("status") != "success":
                failed += 1
            steps = {s["step"]: (s["startTime"], s["startTime"] + s.get("duration", 0)) for s in r.get("steps", []) if "startTime" in s}
            if not steps:
                continue
            start = min(a for a, _ in steps.values())
            end = max(b for _, b in steps.values())
            durations.append(end - start)
            whole = summarize(meters, states, start, end, pauses)
            samples += whole["stateSamples"]
            stall["cycle"] = max(stall["cycle"], whole["stallSeconds"])
            not_running |= set(whole["notRunning"])
            paused += sum(1 for spans in pauses.values() for a, b in spans if a < end and b > start)
            gap = max([gap] + [v["longestGapSeconds"] for v in whole["vms"].values()])
            near = []
            if "snapshot" in steps:
                a, b = steps["snapshot"]
                near.append(("snapshot", a - 0.2, b + 0.2))
            cycle_pivots = [("pivot", a - 0.2, b + 0.2) for a, b in pivots if start <= a <= end]
            pivoted += len(cycle_pivots)
            near += cycle_pivots
            for rows in meters.values():
                for _, f in in_window(rows, start, end):
                    histogram = [x + y for x, y in zip(histogram, f["histogram"])]
                    slowest = max(slowest, f["max_us"])
            for name, a, b in near:
                stall[name] = max(stall[name], stall_near(meters, pauses, a, b))
            # Elsewhere: the cycle's stalls outside those windows.
            for vm, rows in meters.items():
                for t, f in in_window(rows, start, end):
                    x, y = stall_span(t, f)
                    if not any(x < b and y > a for _, a, b in near):
                        stall["elsewhere"] = max(stall["elsewhere"], f["stall_us"] / 1e6)
            for a, b in [steps[k] for k in ("merge", "commit") if k in steps]:
                if b - a >= 2:
                    m = summarize(meters, states, a, b, pauses)
                    full = [x for x in m["vms"].values() if x["mibPerSecond"]]
                    merge_mib += sum(x["mibPerSecond"] for x in full) / max(1, len(full)) * (b - a)
                    merge_secs += b - a
                elif b > a:
                    short_merges += 1
                    for rows in meters.values():
                        for _, f in in_window(rows, a, b):
                            short_mib += f["bytes"] / 2**20
                            short_secs += 1
        print("  gdr-sync %s: %d cycles, %d failed, median %.1f s" % (
            variant, len(durations), failed, sorted(durations)[len(durations) // 2] if durations else 0))
        print("    longest write stall: %.3f s; at the snapshot %.3f s, at the pivot %s, elsewhere %.3f s" % (
            stall["cycle"],
            stall["snapshot"], "%.3f s (%d pivots)" % (stall["pivot"], pivoted) if pivoted else "(no pivot)",
            stall["elsewhere"]))
        print("    write latency during the cycles: p50 <%d us, p99 <%d us, max %.1f ms" % (
            percentile_us(histogram, 50), percentile_us(histogram, 99), slowest / 1000))
        if merge_secs and base_rate:
            print("    throughput during the merge: %.0f%% of the baseline (%.0f s of merging)" % (
                100 * merge_mib / merge_secs / base_rate, merge_secs))
        elif short_secs and base_rate:
            print("    throughput during the merge: %.0f%% of the baseline in the guest seconds overlapping"
                  " a merge (%d merges, each under 2 s)" % (100 * short_mib / short_secs / base_rate, short_merges))
        else:
            print("    throughput during the merge: (no merge)")
        print("    libvirt: %d samples during the cycles, not running in %s; %d pause events;"
              " longest gap between console lines %.3f s" % (
                  samples, ", ".join(sorted(not_running)) if not_running else "none", paused, gap))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    c = sub.add_parser("check")
    c.add_argument("dir")
    c.add_argument("start", type=float)
    c.add_argument("end", type=float)
    c.add_argument("--max-stall", type=float, default=2.0)
    f = sub.add_parser("follow")
    f.add_argument("console")
    f.add_argument("out")
    st = sub.add_parser("states")
    st.add_argument("out")
    st.add_argument("vms", nargs="+")
    ev = sub.add_parser("events")
    ev.add_argument("out")
    b = sub.add_parser("bench")
    b.add_argument("run")
    b.add_argument("count", type=int)
    b.add_argument("cycles", type=int)
    b.add_argument("variants", nargs="+")
    args = parser.parse_args()
    return {"check": check, "follow": follow, "states": states, "events": events, "bench": bench}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
