# Shared by scripts/lab (one host) and scripts/lab-sites (two sites, several
# hosts): process handling by pid, rsync for geo-replication, and the
# guest (kernel, initramfs and domain XML) whose records make every copy
# checkable. The caller sets GUEST, GUEST_RATE, VMDIR, log() and die().

alive() { # alive PIDFILE: is the process it names running?
  [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null
}

wait_for() { # wait_for SECONDS DESCRIPTION COMMAND...
  local limit=$1 what=$2; shift 2
  local i
  for ((i = 0; i < limit * 10; i++)); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.1
  done
  die "timed out after ${limit}s waiting for $what"
}

# Volume options of a VM store, after oVirt's "virt" group, set on every
# lab volume. The client caches that group turns off (quick-read,
# read-ahead, io-cache) and open-behind sit between QEMU and a qcow2
# overlay it has just created and opens at once: with them on, the primary
# mount was seen here to stop answering seconds after a disk-only snapshot
# (the brick's ping timer expired after 42 s, and the client never
# reconnected). Four event threads per side, as that group sets, so that
# one stuck request does not stop every reply. strict-write-ordering: see
# scripts/lab's create_volume. strict-o-direct: QEMU's O_DIRECT writes go
# to the bricks, not through write-behind (QEMU's fallocate calls were seen
# stuck in write-behind without it).
VM_STORE_OPTIONS=(
  performance.quick-read=off
  performance.read-ahead=off
  performance.io-cache=off
  performance.open-behind=off
  client.event-threads=4
  server.event-threads=4
  performance.strict-o-direct=on
)
# The changelog rollover of the lab's primary volumes, in seconds
# (gluster's default: 15). A stopped session's sync starts once every brick
# rolled a changelog past its checkpoint, and waits for a brick of another
# host by this interval plus 2 s: at 5 s each sync of the tests is about
# 10 s shorter (README, "A geo-rep worker can stall", measured both).
LAB_ROLLOVER_SECONDS=${GDR_LAB_ROLLOVER_TIME:-5}

set_vm_store_options() { # set_vm_store_options VOLUME GLUSTER_COMMAND...
  local vol=$1 option
  shift
  for option in "${VM_STORE_OPTIONS[@]}"; do
    "$@" volume set "$vol" "${option%%=*}" "${option#*=}" >/dev/null
  done
}

# The sync method. On sharded volumes geo-replication must carry each
# file's shard-size xattr to the secondary. Verified here:
#  - rsync 3.5.0 (Debian 12's security update): files created, no data,
#    and the checkpoint still says Completed;
#  - tarssh: data blocks and shards arrive, but not the size xattr, so the
#    secondary shows every sharded file as 0 bytes;
#  - rsync 3.2.7 (Debian 12's main archive): data, shards and xattrs, byte
#    for byte. That is what the lab uses, at the price of an rsync without
#    the later security fixes (it only ever talks to this host, over ssh
#    on loopback). The integration tests compare checksums to prove it.
ensure_rsync() {
  local current
  current=$(rsync --version 2>/dev/null || true)
  [[ "$current" == *"version 3.2."* ]] && return
  local version
  version=$(apt-cache madison rsync | awk -F'|' '$2 ~ /3\.2\./ {gsub(/ /, "", $2); print $2; exit}')
  [ -n "$version" ] || die "no rsync 3.2.x in the package archive; geo-replication of sharded volumes needs it"
  log "WARNING: installing rsync $version (older than the security update) for geo-replication; see README"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --allow-downgrades --no-install-recommends "rsync=$version" >/dev/null
}

# A Debian kernel (uncompressed vmlinux: boots far faster under TCG) and a
# busybox initramfs whose init writes records to /dev/vda, or measures its
# writes (gdr-meter, bench/guest_meter.c, built static here).
GUEST_METER_SOURCE=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/bench/guest_meter.c
build_guest() {
  # The stamp names what the initramfs was built with: a new writer rebuilds it.
  local stamp
  stamp="rate=$GUEST_RATE writers=sequential,random,meter(clocksource) meter=$(sha256sum <"$GUEST_METER_SOURCE" | cut -c1-16)"
  [ -s "$GUEST/vmlinux" ] && [ -s "$GUEST/initrd.cpio.gz" ] && [ "$(cat "$GUEST/stamp" 2>/dev/null)" = "$stamp" ] && return
  log "building the guest kernel and initramfs"
  mkdir -p "$GUEST"
  local work
  work=$(mktemp -d)
  local kpkg
  kpkg=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-/ {print $2; exit}')
  [ -n "$kpkg" ] || die "cannot find Debian's kernel package (apt-get update?)"
  (cd "$work" && apt-get download "$kpkg" >/dev/null 2>&1) || die "cannot download $kpkg"
  dpkg -x "$work"/*.deb "$work/k"
  local vmlinuz kver
  vmlinuz=$(ls "$work"/k/boot/vmlinuz-* | head -1)
  kver=${vmlinuz##*/vmlinuz-}
  # The xz stream inside vmlinuz is the uncompressed ELF vmlinux.
  local offset
  offset=$(LC_ALL=C grep -obUaP '\xFD7zXZ\x00' "$vmlinuz" | head -1 | cut -d: -f1)
  [ -n "$offset" ] || die "no xz stream in $vmlinuz"
  tail -c +$((offset + 1)) "$vmlinuz" | xz -dc --single-stream >"$GUEST/vmlinux.tmp" 2>/dev/null || true
  [ -s "$GUEST/vmlinux.tmp" ] || die "cannot unpack vmlinux"
  mv "$GUEST/vmlinux.tmp" "$GUEST/vmlinux"

  local root=$work/initramfs
  mkdir -p "$root"/{bin,dev,proc,sys,lib}
  cp /bin/busybox "$root/bin/busybox"
  gcc -static -O2 -Wall -o "$root/bin/gdr-meter" "$GUEST_METER_SOURCE" || die "cannot build gdr-meter"
  local m f
  for m in virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci virtio_blk; do
    f=$(find "$work/k/lib/modules/$kver" -name "$m.ko*" | head -1)
    [ -n "$f" ] || die "module $m not found"
    case "$f" in
      *.xz) xz -dc "$f" >"$root/lib/$m.ko" ;;
      *) cp "$f" "$root/lib/$m.ko" ;;
    esac
  done
  cat >"$root/init" <<EOF
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci virtio_blk; do
  insmod /lib/\$m.ko 2>/dev/null
done
i=0
while [ ! -b /dev/vda ] && [ \$i -lt 100 ]; do sleep 0.1; i=\$((i + 1)); done
[ -b /dev/vda ] || { echo "gdr-guest: no /dev/vda"; poweroff -f; }
total=\$((\$(cat /sys/block/vda/size) / 8))
writer=sequential
seed=1
for arg in \$(cat /proc/cmdline); do
  case \$arg in
    gdr.writer=*) writer=\${arg#gdr.writer=} ;;
    gdr.seed=*) seed=\${arg#gdr.seed=} ;;
  esac
done
if [ "\$writer" = meter ]; then
  # A clock finer than the jiffies TCG guests may fall back to (latencies
  # would read 0 or one tick), then as fast as the disk allows, over its
  # first 256 MiB; one line a second.
  cs=/sys/devices/system/clocksource/clocksource0
  for c in tsc hpet acpi_pm; do
    grep -qw \$c \$cs/available_clocksource 2>/dev/null && echo \$c >\$cs/current_clocksource 2>/dev/null && break
  done
  echo "gdr-guest: clocksource \$(cat \$cs/current_clocksource 2>/dev/null) of \$(cat \$cs/available_clocksource 2>/dev/null)"
  /bin/gdr-meter /dev/vda 4096 268435456 /dev/ttyS0
  echo "gdr-guest: gdr-meter stopped"
  while true; do sleep 3600; done
fi
if [ "\$writer" = random ]; then
  # Record n (4096 bytes: "RND seed n" + spaces + "END n") at a block drawn
  # by x' = (1103515245 x + 12345) mod 2^31 from the seed, over the whole
  # disk; each dd (O_DIRECT) ends before the next starts. A crash-consistent
  # copy equals the disk after records 1..k: the last record written at
  # each block up to k, and nothing newer (lab check-consistency).
  echo "gdr-guest: writing random records (seed \$seed) over \$total blocks at up to $GUEST_RATE/s"
  x=\$seed
  n=1
  while true; do
    x=\$(((x * 1103515245 + 12345) % 2147483648))
    printf 'RND %010d %012d %4051sEND %012d\n' \$seed \$n "" \$n |
      dd of=/dev/vda bs=4096 seek=\$((x % total)) count=1 oflag=direct conv=notrunc 2>/dev/null
    [ \$((n % 50)) -eq 0 ] && echo "gdr-guest: wrote \$n" >/dev/ttyS0
    [ \$((n % $GUEST_RATE)) -eq 0 ] && sleep 1
    n=\$((n + 1))
  done
fi
echo "gdr-guest: writing \$total records of 4096 bytes at $GUEST_RATE/s"
# Record n (4096 bytes) goes to block n-1: "REC n" + 4062 spaces + "END n".
# One long-lived dd with O_DIRECT writes them in order, so any
# crash-consistent copy holds records 1..k with no hole and no torn record.
n=1
while [ \$n -le \$total ]; do
  printf 'REC %012d %4062sEND %012d\n' \$n "" \$n
  [ \$((n % 50)) -eq 0 ] && echo "gdr-guest: wrote \$n" >/dev/ttyS0
  [ \$((n % $GUEST_RATE)) -eq 0 ] && sleep 1
  n=\$((n + 1))
done | dd of=/dev/vda bs=4096 oflag=direct iflag=fullblock conv=notrunc 2>/dev/null
echo "gdr-guest: disk full, stopped"
while true; do sleep 3600; done
EOF
  chmod +x "$root/init"
  (cd "$root" && find . | busybox cpio -o -H newc 2>/dev/null | gzip -1 >"$GUEST/initrd.cpio.gz")
  echo "$stamp" >"$GUEST/stamp"
  rm -rf "$work"
}

domain_type() {
  # Nested KVM here boots BIOS guests but not Linux ones; TCG is reliable.
  if [ "${GDR_LAB_KVM:-0}" = 1 ] && [ -w /dev/kvm ]; then echo kvm; else echo qemu; fi
}

guest_progress() { # the last record count the guest reported (a meter: its last second's time)
  grep -a -o 'gdr-guest: wrote [0-9]*\|gdr-meter: t=[0-9]*' "$VMDIR/$1.console" 2>/dev/null | tail -1 | grep -o '[0-9]*$'
}

guest_writing() { # has the guest reported new records within ~3 s?
  local before after i
  before=$(guest_progress "$1")
  for i in 1 2 3 4 5 6; do
    sleep 0.5
    after=$(guest_progress "$1")
    [ -n "$after" ] && [ "${after:-0}" != "${before:-0}" ] && return 0
  done
  return 1
}

stop_pidfile() { # stop_pidfile FILE: SIGTERM, then SIGKILL after 10 s
  local f=$1 pid i
  alive "$f" || { rm -f "$f"; return 0; }
  pid=$(cat "$f")
  kill "$pid" 2>/dev/null || true
  for ((i = 0; i < 100; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null || true
  rm -f "$f"
}

# stop_group FILE: the process group the pid in FILE leads (started with
# setsid), SIGTERM then SIGKILL; glustereventsd forks webhook workers that
# would outlive it.
stop_group() {
  local f=$1
  alive "$f" || { rm -f "$f"; return 0; }
  kill -TERM -- "-$(cat "$f")" 2>/dev/null || true
  sleep 0.5
  kill -KILL -- "-$(cat "$f")" 2>/dev/null || true
  rm -f "$f"
}

# vm_xml NAME DISK UUID WRITER SEED: the domain XML of a lab guest: the
# lab's kernel and initramfs, one virtio disk (cache='none', as oVirt runs
# VMs on gluster), the console appended to VMDIR/NAME.console.
vm_xml() {
  local name=$1 disk=$2 uuid=$3 writer=$4 seed=$5
  cat <<XML
<domain type='$(domain_type)'>
  <name>$name</name>
  <uuid>$uuid</uuid>
  <memory unit='MiB'>160</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>$GUEST/vmlinux</kernel>
    <initrd>$GUEST/initrd.cpio.gz</initrd>
    <cmdline>console=ttyS0 quiet panic=-1 gdr.writer=$writer gdr.seed=$seed</cmdline>
  </os>
  <on_poweroff>destroy</on_poweroff>
  <on_crash>destroy</on_crash>
  <devices>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2' cache='none' io='threads'/>
      <source file='$disk'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <serial type='file'>
      <source path='$VMDIR/$name.console' append='on'/>
      <target port='0'/>
    </serial>
    <graphics type='vnc' port='-1' autoport='yes' listen='127.0.0.1'/>
    <memballoon model='none'/>
  </devices>
</domain>
XML
}
