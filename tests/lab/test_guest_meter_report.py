#!/usr/bin/env python3
"""The guest-impact check (bench/guest_meter_report.py) on host-stamped
lines in gdr-meter's console format (tests/fixtures/guest):
it passes a guest that reported every second with fast writes, and
rejects one whose write took too long, one whose lines stopped arriving (a
paused VM: its own clock stops, so only the gap shows), one libvirt saw
paused, and one that reported nothing."""
import json
import os
import subprocess
import sys
import tempfile
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
REPORT = os.path.join(ROOT, "bench", "guest_meter_report.py")
FIXTURES = os.path.join(ROOT, "tests", "fixtures", "guest")
sys.path.insert(0, os.path.join(ROOT, "bench"))
import guest_meter_report  # noqa: E402


def check(directory, start, end):
    result = subprocess.run([sys.executable, REPORT, "check", directory, str(start), str(end), "--max-stall", "2"],
                            capture_output=True, text=True)
    return result.returncode, json.loads(result.stdout)


class GuestMeterReport(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp()

    def tearDown(self):
        for name in os.listdir(self.dir):
            os.unlink(os.path.join(self.dir, name))
        os.rmdir(self.dir)

    def write(self, name, lines):
        with open(os.path.join(self.dir, name), "w") as f:
            f.write("".join(line + "\n" for line in lines))

    def recorded(self, name):
        with open(os.path.join(FIXTURES, name)) as f:
            return [line.rstrip("\n") for line in f]

    def states(self, start, end, state="running", vm="gdr-lab-vm3"):
        return ["%.3f %s %s" % (t + 0.5, vm, state) for t in range(int(start), int(end))]

    def test_a_steady_guest_passes_with_its_figures(self):
        lines = self.recorded("steady.lines")
        self.write("gdr-lab-vm3.lines", lines)
        self.write("states", self.states(1796420000, 1796420012))
        rc, out = check(self.dir, 1796420001, 1796420011)
        self.assertEqual(rc, 0, out)
        vm = out["vms"]["gdr-lab-vm3"]
        self.assertLess(vm["stallSeconds"], 0.1)
        self.assertGreater(vm["mibPerSecond"], 1.0)
        self.assertEqual(out["problems"], [])

    def test_a_slow_write_is_a_stall(self):
        lines = self.recorded("steady.lines")
        # The guest timed one write at 2.5 s (max= in microseconds).
        parts = lines[5].split()
        parts[5] = "max=2500000"
        lines[5] = " ".join(parts)
        self.write("gdr-lab-vm3.lines", lines)
        self.write("states", self.states(1796420000, 1796420012))
        rc, out = check(self.dir, 1796420001, 1796420011)
        self.assertEqual(rc, 1, out)
        self.assertEqual(out["vms"]["gdr-lab-vm3"]["slowestWriteSeconds"], 2.5)
        self.assertIn("gdr-lab-vm3 stalled 2.5 s", out["problems"])

    def test_a_gap_in_arrivals_is_a_stall_even_when_the_guest_timed_nothing_slow(self):
        lines = self.recorded("suspended.lines")  # a 3.3 s gap, as a suspended VM leaves
        self.write("gdr-lab-vm3.lines", lines)
        self.write("states", self.states(1796420000, 1796420012))
        rc, out = check(self.dir, 1796420001, 1796420011)
        self.assertEqual(rc, 1, out)
        vm = out["vms"]["gdr-lab-vm3"]
        self.assertLess(vm["slowestWriteSeconds"], 0.5)
        self.assertGreater(vm["longestGapSeconds"], 2.0)

    def test_libvirt_seeing_it_paused_fails_it(self):
        self.write("gdr-lab-vm3.lines", self.recorded("steady.lines"))
        states = self.states(1796420000, 1796420012)
        states[4] = "1796420004.500 gdr-lab-vm3 paused"
        self.write("states", states)
        rc, out = check(self.dir, 1796420001, 1796420011)
        self.assertEqual(rc, 1, out)
        self.assertEqual(out["notRunning"], ["gdr-lab-vm3 paused"])

    def test_silence_and_no_samples_fail(self):
        self.write("gdr-lab-vm3.lines", ["1796420000.100 gdr-guest: clocksource tsc of tsc hpet acpi_pm"])
        rc, out = check(self.dir, 1796420001, 1796420011)
        self.assertEqual(rc, 1, out)
        self.assertIn("gdr-lab-vm3 reported nothing", out["problems"])
        self.assertIn("no libvirt state was sampled", out["problems"])

    def test_percentiles_are_bucket_bounds(self):
        histogram = [0] * 24
        histogram[6] = 98  # 64..128 us
        histogram[12] = 2  # 4..8 ms
        self.assertEqual(guest_meter_report.percentile_us(histogram, 50), 128)
        self.assertEqual(guest_meter_report.percentile_us(histogram, 99), 8192)


if __name__ == "__main__":
    unittest.main()
