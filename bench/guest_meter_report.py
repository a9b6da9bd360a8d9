#!/usr/bin/env python3
"""What the measuring guests (bench/guest_meter.c) saw, over a time window.

Inputs are the host's records, each line prefixed with the host's time
(seconds since the epoch) when it arrived:
  a console file per VM, named VM.lines: "TIME gdr-meter: t=.. n=.. bytes=.. max=.. maxat=.. h=.."
  a states file:                          "TIME VM STATE" (libvirt's domstate, once a second)

A stall is the longest time a guest's writes made no progress: the slowest
write the guest itself timed (max=), or a gap in its lines' arrival beyond
the one second between them (a paused VM's clock stops, so only the host
sees that one).

  guest_meter_report.py follow CONSOLE OUT
      appends each new line of CONSOLE to OUT, prefixed with its arrival time
  guest_meter_report.py states OUT VM...
      appends "TIME VM STATE" for each VM once a second (virsh domstate)
  guest_meter_report.py check DIR FROM TO [--max-stall SECONDS]
      JSON on stdout; exit 1 when a guest stalled longer than allowed, was
      ever not running, or reported nothing in the window.
Both recorders run until they are sent SIGTERM.
"""
import argparse
import glob
import json
import os
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


def summarize(meters, states, start, end):
    vms = {}
    for vm, rows in meters.items():
        inside = in_window(rows, start, end)
        histogram = [0] * BUCKETS
        for _, f in inside:
            for i, n in enumerate(f["histogram"][:BUCKETS]):
                histogram[i] += n
        slowest = max((f["max_us"] for _, f in inside), default=0) / 1e6
        gap = longest_gap(rows, start, end)
        # Full seconds only (a line that arrived wholly inside the window).
        full = [f for t, f in inside if start <= t - 1 and t <= end]
        vms[vm] = {
            "lines": len(inside),
            "stallSeconds": round(max(slowest, gap), 3),
            "slowestWriteSeconds": round(slowest, 3),
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
    summary = summarize(read_meters(args.dir), read_states(args.dir + "/states"), args.start, args.end)
    problems = []
    if not summary["vms"]:
        problems.append("no measuring guest's console")
    for vm, v in summary["vms"].items():
        if v["lines"] == 0:
            problems.append("%s reported nothing" % vm)
        if v["stallSeconds"] > args.max_stall:
            problems.append("%s stalled %.1f s" % (vm, v["stallSeconds"]))
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
    args = parser.parse_args()
    return {"check": check, "follow": follow, "states": states}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
