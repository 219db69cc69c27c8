// Fixed-rate HTTP/1.1 load generator for bench/proxy-vs-haproxy.mjs (compiled by the bench with gcc).
// Sends GET requests on keep-alive connections at exact intervals (a timerfd on CLOCK_MONOTONIC, absolute
// deadlines) and measures each latency from the time the request was DUE, not from when it was sent, so a
// stall anywhere (client, proxy, backend) counts in full (no coordinated omission, as in wrk2).
// One request at a time per connection; a due request waits for a free connection if all are busy.
// Usage: fixed-rate HOST PORT RATE SECONDS CONNECTIONS WARMUP_SECONDS PATH
// Prints one line: sent=N ok=N errors=N p50_us=.. p90_us=.. p99_us=.. p999_us=.. max_us=..
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define MAXCONN 256
#define BUFSZ 65536

typedef struct {
  int fd;
  int busy;
  int64_t due;  // ns: when the request in flight was due
  size_t have;  // bytes of the current response read so far
  char buf[BUFSZ];
} conn_t;

static conn_t conns[MAXCONN];
static int nconn;
static struct sockaddr_in addr;
static char req[512];
static size_t reqlen;
static int64_t *lat;
static size_t nlat, caplat;
static long sent, ok, errors;
static int64_t measure_from;

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int open_conn(int ep, int i) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
    close(fd);
    return -1;
  }
  conns[i].fd = fd;
  conns[i].busy = 0;
  conns[i].have = 0;
  struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
  epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
  return 0;
}

static void record(int64_t due, int64_t t) {
  if (due < measure_from) return;
  if (nlat == caplat) {
    caplat = caplat ? caplat * 2 : 65536;
    lat = realloc(lat, caplat * sizeof *lat);
  }
  lat[nlat++] = t - due;
}

/** Length of a complete response in buf (head + Content-Length body), 0 if incomplete, -1 if unsupported. */
static long complete(const char *buf, size_t n) {
  const char *end = memmem(buf, n, "\r\n\r\n", 4);
  if (!end) return 0;
  size_t head = (size_t)(end - buf) + 4;
  long len = -1;
  for (const char *p = buf; p < end;) {
    const char *nl = memmem(p, (size_t)(end - p), "\r\n", 2);
    if (!nl) nl = end;
    if ((size_t)(nl - p) > 15 && strncasecmp(p, "content-length:", 15) == 0) len = atol(p + 15);
    p = nl + 2;
  }
  if (len < 0) return -1;
  return n >= head + (size_t)len ? (long)(head + (size_t)len) : 0;
}

static int cmp(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return x < y ? -1 : x > y;
}

static long pct(double p) {
  if (nlat == 0) return -1;
  size_t i = (size_t)(p / 100.0 * (double)(nlat - 1) + 0.5);
  return (long)(lat[i] / 1000);
}

int main(int argc, char **argv) {
  if (argc != 8) {
    fprintf(stderr, "usage: %s HOST PORT RATE SECONDS CONNECTIONS WARMUP_SECONDS PATH\n", argv[0]);
    return 2;
  }
  addr.sin_family = AF_INET;
  addr.sin_port = htons((uint16_t)atoi(argv[2]));
  if (inet_pton(AF_INET, argv[1], &addr.sin_addr) != 1) return 2;
  double rate = atof(argv[3]), seconds = atof(argv[4]), warmup = atof(argv[6]);
  nconn = atoi(argv[5]);
  if (nconn < 1 || nconn > MAXCONN || rate <= 0) return 2;
  reqlen = (size_t)snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: %s:%s\r\nUser-Agent: baton-fixed-rate\r\n\r\n",
                            argv[7], argv[1], argv[2]);
  int ep = epoll_create1(0);
  for (int i = 0; i < nconn; i++) {
    if (open_conn(ep, i) != 0) {
      perror("connect");
      return 1;
    }
  }
  int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
  struct epoll_event tev = {.events = EPOLLIN, .data.u32 = 0xffffffffu};
  epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &tev);

  int64_t interval = (int64_t)(1e9 / rate);
  int64_t start = now_ns() + 10000000LL;
  int64_t stop = start + (int64_t)((warmup + seconds) * 1e9);
  measure_from = start + (int64_t)(warmup * 1e9);
  int64_t next = start;  // due time of the next request
  int64_t backlog[4096];  // due times of requests waiting for a free connection
  size_t qh = 0, qt = 0;
  int rr = 0;
  struct epoll_event evs[MAXCONN + 1];

  for (;;) {
    int64_t t = now_ns();
    while (next <= t && next < stop) {
      if (qt - qh < 4096) backlog[qt++ % 4096] = next;
      else errors++;
      next += interval;
    }
    // Hand due requests to free connections, rotating so every connection is used.
    while (qh < qt) {
      int found = -1;
      for (int k = 0; k < nconn; k++) {
        int i = (rr + k) % nconn;
        if (!conns[i].busy && conns[i].fd >= 0) {
          found = i;
          break;
        }
      }
      if (found < 0) break;
      rr = (found + 1) % nconn;
      conn_t *c = &conns[found];
      c->due = backlog[qh++ % 4096];
      c->busy = 1;
      c->have = 0;
      sent++;
      if (write(c->fd, req, reqlen) != (ssize_t)reqlen) {
        errors++;
        close(c->fd);
        c->fd = -1;
        if (open_conn(ep, found) != 0) c->fd = -1;
      }
    }
    int busy = 0;
    for (int i = 0; i < nconn; i++) busy += conns[i].busy;
    if (next >= stop && qh == qt && busy == 0) break;
    if (next < stop) {
      struct itimerspec its = {0};
      its.it_value.tv_sec = next / 1000000000LL;
      its.it_value.tv_nsec = next % 1000000000LL;
      timerfd_settime(tfd, TFD_TIMER_ABSTIME, &its, NULL);
    }
    int n = epoll_wait(ep, evs, MAXCONN + 1, next < stop ? -1 : 5000);
    if (n == 0) break;  // stuck responses after the end: give up
    for (int e = 0; e < n; e++) {
      uint32_t id = evs[e].data.u32;
      if (id == 0xffffffffu) {
        uint64_t x;
        while (read(tfd, &x, sizeof x) > 0) {
        }
        continue;
      }
      conn_t *c = &conns[id];
      ssize_t r = read(c->fd, c->buf + c->have, BUFSZ - c->have);
      if (r <= 0) {
        if (r < 0 && errno == EAGAIN) continue;
        if (c->busy) errors++;
        epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
        c->busy = 0;
        if (open_conn(ep, (int)id) != 0) c->fd = -1;
        continue;
      }
      c->have += (size_t)r;
      long done = complete(c->buf, c->have);
      if (done == 0 && c->have < BUFSZ) continue;
      int64_t t2 = now_ns();
      if (done > 0 && memcmp(c->buf, "HTTP/1.1 2", 10) == 0) {
        ok++;
        record(c->due, t2);
      } else
        errors++;
      c->busy = 0;
      c->have = 0;
    }
  }
  qsort(lat, nlat, sizeof *lat, cmp);
  printf("sent=%ld ok=%ld errors=%ld measured=%zu p50_us=%ld p90_us=%ld p99_us=%ld p999_us=%ld max_us=%ld\n", sent,
         ok, errors, nlat, pct(50), pct(90), pct(99), pct(99.9), nlat ? (long)(lat[nlat - 1] / 1000) : -1);
  return 0;
}
