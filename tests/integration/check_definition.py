#!/usr/bin/env python3
"""Checks a VM definition that travelled to the secondary.

usage: check_definition.py DEFINITION PRIMARY_INACTIVE_XML PRIMARY_MOUNT SECONDARY_MOUNT SHA256 BASE...

DEFINITION is the file on the secondary; PRIMARY_INACTIVE_XML is
`virsh dumpxml --inactive` of the running VM at the primary; BASE... are
the VM's base images as the primary names them, in disk order. The
definition must parse, be the same VM (UUID, name, vCPUs, memory), name
exactly the bases and nothing under .gdr-snapshots, place each base on the
volume (gdr:recovery metadata) at a path that exists on the secondary, and
hash to SHA256 (the cycle's report). Prints what is wrong and exits 1.
"""
import hashlib
import os
import sys
import xml.etree.ElementTree as ET

GDR = "{urn:gdr:recovery:1}"


def problems(definition, primary_xml, primary_mount, secondary_mount, sha256, bases):
    with open(definition, "rb") as f:
        data = f.read()
    if hashlib.sha256(data).hexdigest() != sha256:
        yield "sha256 %s, the report says %s" % (hashlib.sha256(data).hexdigest(), sha256)
    try:
        dom = ET.fromstring(data)
    except ET.ParseError as e:
        yield "does not parse: %s" % e
        return
    ref = ET.fromstring(primary_xml)
    for tag in ("uuid", "name", "vcpu", "memory"):
        mine, theirs = dom.findtext(tag), ref.findtext(tag)
        if mine is None or mine.strip() != (theirs or "").strip():
            yield "%s is %r, the primary's VM has %r" % (tag, mine, theirs)
    disks = [d for d in dom.findall("devices/disk") if d.get("device", "disk") == "disk"]
    sources = [d.find("source").get("file") if d.find("source") is not None else None for d in disks]
    if sources != bases:
        yield "disks name %s, the bases are %s" % (sources, bases)
    if b".gdr-snapshots" in data:
        yield "names a snapshot overlay"
    if dom.find("devices/disk/backingStore") is not None:
        yield "carries a backing chain"
    placed = dom.findall("metadata/%srecovery/%sdisk" % (GDR, GDR))
    if len(placed) != len(bases):
        yield "gdr:recovery places %d disks, the VM has %d" % (len(placed), len(bases))
    for disk, base in zip(placed, bases):
        rel = os.path.relpath(base, primary_mount)
        if disk.get("path") != rel:
            yield "gdr:recovery puts %s at %s, not %s" % (disk.get("target"), disk.get("path"), rel)
        elif not os.path.isfile(os.path.join(secondary_mount, rel)):
            yield "%s is not on the secondary" % rel


def main():
    if len(sys.argv) < 7:
        print(__doc__, file=sys.stderr)
        return 2
    definition, primary_xml_file, primary_mount, secondary_mount, sha256 = sys.argv[1:6]
    with open(primary_xml_file) as f:
        primary_xml = f.read()
    found = list(problems(definition, primary_xml, primary_mount, secondary_mount, sha256, sys.argv[6:]))
    for p in found:
        print("%s: %s" % (definition, p))
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
