/* gdr-meter: the lab guest that measures (scripts/bench guest). It writes
 * to its disk as fast as the disk allows, each write O_DIRECT, in order
 * over the first REGION bytes and round again, and once a second prints on
 * its console one line:
 *
 *   gdr-meter: t=MS n=WRITES bytes=BYTES max=US maxat=MS stall=US stallat=MS h=C0,C1,...,C23
 *
 * t: milliseconds since it started (CLOCK_MONOTONIC) at the end of the
 * second; max: the slowest write of that second in microseconds, maxat:
 * when it began; stall: the longest time between two writes completing
 * (the slowest write, or anything else that stopped the guest making
 * progress: a vCPU held up by QEMU shows here even between writes),
 * stallat: when that stall began (so the host can tell which step of a
 * cycle it fell in); h: how many writes took [2^i, 2^(i+1)) microseconds
 * (the last bucket: 2^23 us and more). A write that does not return
 * prints nothing until it does. A paused VM's clock stops too: only the
 * host sees a pause (libvirt's lifecycle events).
 *
 * Arguments: DEVICE [BLOCK_BYTES [REGION_BYTES [CONSOLE]]] (defaults 4096,
 * 256 MiB, /dev/ttyS0).
 * Built static into the lab's initramfs (scripts/lab-common.sh, build_guest);
 * a lab VM runs it with --writer meter. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BUCKETS 24

static int64_t now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int bucket_of(int64_t us) {
  int b = 0;
  while (b < BUCKETS - 1 && us >= ((int64_t)2 << b)) b++;
  return b;
}

int main(int argc, char** argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: gdr-meter DEVICE [BLOCK_BYTES [REGION_BYTES [CONSOLE]]]\n");
    return 2;
  }
  const size_t block = argc > 2 ? strtoul(argv[2], NULL, 10) : 4096;
  const uint64_t region = argc > 3 ? strtoull(argv[3], NULL, 10) : (uint64_t)256 << 20;
  if (block < 512 || block % 512 != 0 || region < block) {
    fprintf(stderr, "gdr-meter: bad block or region size\n");
    return 2;
  }
  const int fd = open(argv[1], O_WRONLY | O_DIRECT);
  if (fd < 0) {
    perror("gdr-meter: open");
    return 1;
  }
  void* buffer = NULL;
  if (posix_memalign(&buffer, 4096, block) != 0) return 1;
  memset(buffer, 'M', block);
  FILE* console = fopen(argc > 4 ? argv[4] : "/dev/ttyS0", "w");
  if (!console) console = stdout;
  fprintf(console, "gdr-meter: writing %zu-byte blocks with O_DIRECT over %llu bytes of %s\n", block,
          (unsigned long long)region, argv[1]);
  fflush(console);

  const int64_t start = now_us();
  int64_t second_end = start + 1000000;
  uint64_t offset = 0, writes = 0, bytes = 0;
  int64_t max = 0, max_at = 0, stall = 0, stall_at = 0;
  int64_t last_done = start;  // the previous write's completion
  uint64_t histogram[BUCKETS] = {0};
  for (;;) {
    const int64_t before = now_us();
    if (pwrite(fd, buffer, block, (off_t)offset) != (ssize_t)block) {
      perror("gdr-meter: write");
      sleep(1);
    }
    const int64_t after = now_us(), took = after - before;
    if (after - last_done > stall) {
      stall = after - last_done;
      stall_at = (last_done - start) / 1000;
    }
    last_done = after;
    offset = offset + block >= region ? 0 : offset + block;
    writes++;
    bytes += block;
    histogram[bucket_of(took)]++;
    if (took > max) {
      max = took;
      max_at = (before - start) / 1000;
    }
    if (after >= second_end) {
      char line[512];
      int len = snprintf(line, sizeof line,
                         "gdr-meter: t=%lld n=%llu bytes=%llu max=%lld maxat=%lld stall=%lld stallat=%lld h=",
                         (long long)((after - start) / 1000), (unsigned long long)writes, (unsigned long long)bytes,
                         (long long)max, (long long)max_at, (long long)stall, (long long)stall_at);
      for (int b = 0; b < BUCKETS && len < (int)sizeof line - 24; b++) {
        len += snprintf(line + len, sizeof line - len, b ? ",%llu" : "%llu", (unsigned long long)histogram[b]);
      }
      fprintf(console, "%s\n", line);
      fflush(console);
      writes = bytes = 0;
      max = max_at = stall = stall_at = 0;
      memset(histogram, 0, sizeof histogram);
      while (second_end <= after) second_end += 1000000;
      last_done = now_us();  // the console line is the meter's own time, not a stall
    }
  }
}
