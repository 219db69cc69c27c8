// The machine's own stalls on one CPU, for bench/proxy-vs-field.mjs (compiled by the bench with gcc).
// A busy loop reads CLOCK_MONOTONIC as fast as it can; a gap between two reads longer than THRESHOLD_US is
// time the CPU did not run it (the hypervisor, an interrupt, another process). Run pinned (taskset) on an
// otherwise idle CPU, it shows the floor under any latency measured there: a proxy on that CPU cannot add
// less to a tail than the machine takes away from it.
// Usage: stall-probe SECONDS THRESHOLD_US
// Prints: stalls=N per_s=.. stalled_us=.. max_us=..
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static int64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (int64_t)t.tv_sec * 1000000000LL + t.tv_nsec;
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: stall-probe SECONDS THRESHOLD_US\n");
    return 2;
  }
  const int64_t span = (int64_t)(atof(argv[1]) * 1e9);
  const int64_t threshold = (int64_t)atol(argv[2]) * 1000;
  int64_t start = now_ns(), prev = start, stalled = 0, longest = 0;
  long stalls = 0;
  for (;;) {
    int64_t t = now_ns();
    int64_t gap = t - prev;
    if (gap > threshold) {
      stalls++;
      stalled += gap;
      if (gap > longest) longest = gap;
    }
    prev = t;
    if (t - start >= span) break;
  }
  double secs = (double)(prev - start) / 1e9;
  printf("stalls=%ld per_s=%.1f stalled_us=%lld max_us=%lld\n", stalls, stalls / secs, (long long)(stalled / 1000),
         (long long)(longest / 1000));
  return 0;
}
