#!/usr/bin/env python3
"""Prints how QEMU is to read each disk of a recovery point.

usage: point_image.py MANIFEST ROOT

For each disk of the manifest, one line "VM DRIVE IMAGE BASE": IMAGE is a
QEMU json: filename that reads the base under ROOT (a mount of the
secondary) through the point's deltas, oldest first, as the manifest
names them; BASE is the base's own path. The deltas' headers are not
followed: a commit rewrites the backing name in the header of the delta
over the one committed, and that rewrite may reach the secondary before
the base it names is whole. Only the manifest's chain is the point.
"""
import json
import os
import sys


def node(root, image, backing):
    out = {"driver": image["format"], "file": {"driver": "file", "filename": os.path.join(root, image["path"])}}
    if image["format"] == "qcow2":
        out["backing"] = backing
    return out


def main():
    if len(sys.argv) != 3:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    manifest, root = sys.argv[1], sys.argv[2]
    with open(manifest) as f:
        point = json.load(f)
    for vm in point["vms"]:
        for disk in vm["disks"]:
            chain = node(root, disk, None)
            deltas = disk.get("olderDeltas", []) + ([disk["delta"]] if disk.get("delta") else [])
            for delta in deltas:
                chain = node(root, delta, chain)
            image = "json:" + json.dumps(chain, separators=(",", ":")) if deltas else os.path.join(root, disk["path"])
            print(vm["name"], disk["drive"], image, os.path.join(root, disk["path"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
