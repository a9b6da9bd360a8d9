#!/usr/bin/env python3
"""The lab's point comparison (the diagnosis a failed consistency check
prints): it names each image of a manifest as the same on both copies, or
the 4 MiB strides where they differ, marking those the second copy holds
as zeros."""
import json
import os
import subprocess
import tempfile
import unittest
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COMPARE = os.path.join(ROOT, "scripts", "lab-compare-point")
STRIDE = 4 << 20


class ComparePoint(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.primary = os.path.join(self.dir.name, "primary")
        self.secondary = os.path.join(self.dir.name, "secondary")
        self.manifest = os.path.join(self.dir.name, "point.json")
        disk = {"drive": "vda", "path": "images/vm.qcow2", "format": "qcow2",
                "olderDeltas": [{"path": "images/.gdr-snapshots/vm.1.qcow2", "format": "qcow2"}],
                "delta": {"path": "images/.gdr-snapshots/vm.2.qcow2", "format": "qcow2"}}
        with open(self.manifest, "w") as f:
            json.dump({"vms": [{"name": "vm", "disks": [disk]}]}, f)
        self.files = [disk["path"], disk["olderDeltas"][0]["path"], disk["delta"]["path"]]
        for root in (self.primary, self.secondary):
            for i, path in enumerate(self.files):
                self.write(root, path, bytes([65 + i]) * (3 * STRIDE))

    def tearDown(self):
        self.dir.cleanup()

    def write(self, root, path, data, at=0):
        full = os.path.join(root, path)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "r+b" if os.path.exists(full) else "wb") as f:
            f.seek(at)
            f.write(data)

    def compare(self):
        out = subprocess.run(["python3", COMPARE, self.manifest, self.primary, self.secondary],
                             check=True, capture_output=True, text=True).stdout
        return out.splitlines()

    def test_identical_copies_are_the_same(self):
        self.assertEqual(self.compare(), ["vm base images/vm.qcow2: same",
                                          "vm older delta images/.gdr-snapshots/vm.1.qcow2: same",
                                          "vm delta images/.gdr-snapshots/vm.2.qcow2: same"])

    def test_differing_strides_are_named_and_zeros_marked(self):
        self.write(self.secondary, self.files[1], b"\0" * STRIDE, at=STRIDE)
        self.write(self.secondary, self.files[1], b"x", at=2 * STRIDE + 5)
        lines = self.compare()
        self.assertEqual(lines[1], "vm older delta images/.gdr-snapshots/vm.1.qcow2: 2 strides differ, at bytes "
                                   "%d zeros, %d" % (STRIDE, 2 * STRIDE))
        self.assertTrue(lines[0].endswith(": same") and lines[2].endswith(": same"), lines)

    def test_a_missing_file_is_unreadable(self):
        os.remove(os.path.join(self.secondary, self.files[2]))
        self.assertIn("unreadable", self.compare()[2])

    def test_bricks_tell_a_missing_piece_from_a_wrong_read(self):
        # Two one-brick volumes: the base's piece 0 is the file itself,
        # pieces 1 and 2 live in .shard under its gfid. The secondary's
        # brick holds piece 1 (its mount read zeros there) and lacks piece 2.
        gfid = uuid.uuid4()
        bricks = [os.path.join(self.dir.name, b) for b in ("brick-p", "brick-s")]
        for brick in bricks:
            self.write(brick, self.files[0], b"A" * STRIDE)
            os.setxattr(os.path.join(brick, self.files[0]), "trusted.gfid", gfid.bytes)
        for index in (1, 2):
            self.write(bricks[0], ".shard/%s.%d" % (gfid, index), b"A" * STRIDE)
        self.write(bricks[1], ".shard/%s.1" % gfid, b"A" * STRIDE)
        os.setxattr(os.path.join(bricks[1], ".shard/%s.1" % gfid), "trusted.gfid", uuid.uuid4().bytes)
        self.write(self.secondary, self.files[0], b"\0" * (2 * STRIDE), at=STRIDE)
        out = subprocess.run(["python3", COMPARE, self.manifest, self.primary, self.secondary] + bricks,
                             check=True, capture_output=True, text=True).stdout.splitlines()
        self.assertEqual(out[0], "vm base images/vm.qcow2: 2 strides differ, at bytes %d zeros, %d zeros"
                                 % (STRIDE, 2 * STRIDE))
        self.assertIn("piece 1: primary brick 4194304 bytes, modified ", out[1])
        self.assertIn(", gfid none; secondary brick 4194304 bytes", out[1])
        self.assertIn("the bricks hold the same bytes: the secondary's copy was read wrong", out[1])
        self.assertIn("piece 2:", out[2])
        self.assertIn("secondary brick absent", out[2])
        self.assertIn("not readable on both bricks", out[2])
        self.assertEqual(out[3], "vm older delta images/.gdr-snapshots/vm.1.qcow2: same")


if __name__ == "__main__":
    unittest.main()
