#!/usr/bin/env python3
"""The lab's consistency check, on images written here as the guests write
them: it accepts the disk after any prefix of the writes and rejects a
copy made of two points in time (shards of both mixed), as a sync cut off
mid-way leaves it."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CHECK = os.path.join(ROOT, "scripts", "lab-check-consistency")
RECORD = 4096
SHARD = 4 << 20
DISK = 64 << 20
BLOCKS = DISK // RECORD


def random_record(seed, n):
    return b"RND %010d %012d %s END %012d\n" % (seed, n, b" " * 4050, n)


def sequential_record(n):
    return b"REC %012d %s END %012d\n" % (n, b" " * 4061, n)


def random_writes(seed, count):
    """(block, record) in the order the guest writes them."""
    x = seed
    for n in range(1, count + 1):
        x = (x * 1103515245 + 12345) % 2147483648
        yield x % BLOCKS, random_record(seed, n)


def sequential_writes(count):
    for n in range(1, count + 1):
        yield n - 1, sequential_record(n)


def write_image(path, writes):
    with open(path, "wb") as f:
        f.truncate(DISK)
        for block, record in writes:
            f.seek(block * RECORD)
            f.write(record)


def mix(path, first, second, shards_from_second):
    """A copy holding `second`'s shards at the indexes given, `first`'s elsewhere."""
    with open(first, "rb") as a, open(second, "rb") as b, open(path, "wb") as out:
        for shard in range(DISK // SHARD):
            source = b if shard in shards_from_second else a
            source.seek(shard * SHARD)
            out.write(source.read(SHARD))


def check(path):
    result = subprocess.run([sys.executable, CHECK, path], capture_output=True, text=True)
    return result.returncode, json.loads(result.stdout)


class RecordFormats(unittest.TestCase):
    def test_records_are_one_block(self):
        self.assertEqual(len(random_record(7, 1)), RECORD)
        self.assertEqual(len(sequential_record(1)), RECORD)


class ConsistencyCheck(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="gdr-consistency-")

    def tearDown(self):
        shutil.rmtree(self.dir)

    def image(self, name, writes):
        path = os.path.join(self.dir, name)
        write_image(path, writes)
        return path

    def test_every_prefix_of_random_writes_is_accepted(self):
        for k in (0, 1, 300, 2000):
            code, report = check(self.image("r%d" % k, random_writes(4242, k)))
            self.assertEqual(code, 0, report)
            self.assertEqual(report["records"], k)

    def test_random_writes_do_overwrite_each_other(self):
        # Not vacuous: some positions are written twice, so "the last
        # record at each place" is what the check must hold to.
        places = [block for block, _ in random_writes(4242, 20000)]
        self.assertLess(len(set(places)), len(places))

    def test_shards_of_two_points_mixed_are_rejected(self):
        older = self.image("older", random_writes(4242, 1000))
        newer = self.image("newer", random_writes(4242, 3000))
        torn = os.path.join(self.dir, "torn")
        mix(torn, older, newer, shards_from_second=set(range(0, 16, 2)))
        code, report = check(torn)
        self.assertEqual(code, 1, report)
        self.assertFalse(report["consistent"])
        self.assertIn("missing", report["reason"] + json.dumps(report))
        # A single shard from the older point is enough.
        mix(torn, newer, older, shards_from_second={7})
        code, report = check(torn)
        self.assertEqual(code, 1, report)

    def test_an_older_record_where_a_newer_one_belongs_is_rejected(self):
        writes = list(random_writes(99, 20000))
        last = {}
        for n, (block, _) in enumerate(writes, start=1):
            last.setdefault(block, []).append(n)
        block, numbers = next((b, ns) for b, ns in last.items() if len(ns) > 1)
        path = self.image("stale", writes)
        with open(path, "r+b") as f:  # that block goes back to its earlier record
            f.seek(block * RECORD)
            f.write(random_record(99, numbers[-2]))
        code, report = check(path)
        self.assertEqual(code, 1, report)
        self.assertIn("was written there after it", report["reason"])

    def test_a_torn_record_or_another_seed_is_rejected(self):
        path = self.image("torn-record", random_writes(5, 500))
        block = next(iter(random_writes(5, 1)))[0]
        with open(path, "r+b") as f:
            f.seek(block * RECORD + 2048)
            f.write(b"X" * 16)
        self.assertEqual(check(path)[0], 1)
        path = self.image("two-seeds", list(random_writes(5, 100)) + list(random_writes(6, 1)))
        code, report = check(path)
        self.assertEqual(code, 1, report)

    def test_sequential_prefixes_and_a_hole(self):
        code, report = check(self.image("seq", sequential_writes(3000)))
        self.assertEqual((code, report["records"], report["mode"]), (0, 3000, "sequential"))
        older = self.image("seq-old", sequential_writes(100))
        newer = self.image("seq-new", sequential_writes(2500))
        torn = os.path.join(self.dir, "seq-torn")
        mix(torn, newer, older, shards_from_second={0})  # 1..100, a hole, then 1025..2500
        code, report = check(torn)
        self.assertEqual(code, 1, report)
        self.assertIn("missing", report["reason"])

    @unittest.skipUnless(shutil.which("qemu-img"), "qemu-img is not installed")
    def test_a_qcow2_image_is_read_through_qemu_img(self):
        raw = self.image("q.raw", random_writes(31, 700))
        qcow2 = os.path.join(self.dir, "q.qcow2")
        subprocess.run(["qemu-img", "convert", "-f", "raw", "-O", "qcow2", raw, qcow2], check=True)
        code, report = check(qcow2)
        self.assertEqual((code, report["records"], report["format"]), (0, 700, "qcow2"), report)


if __name__ == "__main__":
    unittest.main()
