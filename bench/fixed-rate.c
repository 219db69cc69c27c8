// Fixed-rate HTTP/1.1 load generator for bench/proxy-vs-haproxy.mjs (compiled by the bench with gcc).
// Sends GET requests on keep-alive connections at exact intervals (a timerfd on CLOCK_MONOTONIC, absolute
// deadlines) and measures each latency from the time the request was DUE, not from when it was sent, so a
// stall anywhere (client, proxy, backend) counts in full (no coordinated omission, as in wrk2).
// One request at a time per connection; a due request waits for a free connection if all are busy.
// With several ports, every tick sends one request to each (own connections, own figures), so the targets
// are measured side by side through the same moments of machine noise.
// A port written `tls:PORT` is spoken to over TLS (OpenSSL: one handshake per connection when it opens, not
// verified, ALPN http/1.1); NAME, when given, is the Host header and the TLS server name (else HOST:PORT).
// Usage: fixed-rate HOST PORT[,tls:PORT...] RATE SECONDS CONNECTIONS WARMUP_SECONDS PATH [NAME]
// Prints one line per port: target=PORT sent=N ok=N errors=N p50_us=.. p90_us=.. p99_us=.. p999_us=.. max_us=..
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <fcntl.h>
#include <openssl/ssl.h>
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
#define MAXTARGETS 16
#define BUFSZ 65536
#define QSZ 4096

typedef struct {
  int fd;
  SSL *ssl;  // NULL on a plain connection
  int target;
  int busy;
  int64_t due;  // ns: when the request in flight was due
  size_t have;  // bytes of the current response read so far
  char buf[BUFSZ];
} conn_t;

typedef struct {
  struct sockaddr_in addr;
  int tls;
  char req[512];
  size_t reqlen;
  int first;  // index of its first connection
  int rr;
  int64_t backlog[QSZ];  // due times of requests waiting for a free connection
  size_t qh, qt;
  int64_t *lat;
  size_t nlat, caplat;
  long sent, ok, errors;
} target_t;

static conn_t conns[MAXCONN];
static target_t targets[MAXTARGETS];
static int ntargets, nconn;  // nconn: connections per target
static int64_t measure_from;
static SSL_CTX *tls_ctx;
static const char *server_name;

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int open_conn(int ep, int i) {
  target_t *t = &targets[conns[i].target];
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (connect(fd, (struct sockaddr *)&t->addr, sizeof t->addr) != 0) {
    close(fd);
    conns[i].fd = -1;
    return -1;
  }
  conns[i].ssl = NULL;
  if (t->tls) {
    // The handshake is made blocking, before the connection is used; requests then go non-blocking.
    SSL *ssl = SSL_new(tls_ctx);
    SSL_set_fd(ssl, fd);
    if (server_name) SSL_set_tlsext_host_name(ssl, server_name);
    if (SSL_connect(ssl) != 1) {
      SSL_free(ssl);
      close(fd);
      conns[i].fd = -1;
      return -1;
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    conns[i].ssl = ssl;
  }
  conns[i].fd = fd;
  conns[i].busy = 0;
  conns[i].have = 0;
  struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
  epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
  return 0;
}

static void drop_conn(int ep, int i) {
  epoll_ctl(ep, EPOLL_CTL_DEL, conns[i].fd, NULL);
  if (conns[i].ssl) SSL_free(conns[i].ssl);
  conns[i].ssl = NULL;
  close(conns[i].fd);
}

static ssize_t send_req(conn_t *c, const char *req, size_t len) {
  return c->ssl ? (ssize_t)SSL_write(c->ssl, req, (int)len) : write(c->fd, req, len);
}

/** Reads what is there: > 0 bytes, 0 on close or error, -1 when nothing more can be read now. */
static ssize_t recv_some(conn_t *c) {
  if (!c->ssl) {
    ssize_t r = read(c->fd, c->buf + c->have, BUFSZ - c->have);
    return r < 0 && errno == EAGAIN ? -1 : r < 0 ? 0 : r;
  }
  int r = SSL_read(c->ssl, c->buf + c->have, (int)(BUFSZ - c->have));
  if (r > 0) return r;
  int e = SSL_get_error(c->ssl, r);
  return e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE ? -1 : 0;
}

static void record(target_t *t, int64_t due, int64_t now) {
  if (due < measure_from) return;
  if (t->nlat == t->caplat) {
    t->caplat = t->caplat ? t->caplat * 2 : 65536;
    t->lat = realloc(t->lat, t->caplat * sizeof *t->lat);
  }
  t->lat[t->nlat++] = now - due;
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

static long pct(target_t *t, double p) {
  if (t->nlat == 0) return -1;
  size_t i = (size_t)(p / 100.0 * (double)(t->nlat - 1) + 0.5);
  return (long)(t->lat[i] / 1000);
}

int main(int argc, char **argv) {
  if (argc != 8 && argc != 9) {
    fprintf(stderr, "usage: %s HOST PORT[,tls:PORT...] RATE SECONDS CONNECTIONS WARMUP_SECONDS PATH [NAME]\n",
            argv[0]);
    return 2;
  }
  if (argc == 9) server_name = argv[8];
  tls_ctx = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_verify(tls_ctx, SSL_VERIFY_NONE, NULL);
  SSL_CTX_set_alpn_protos(tls_ctx, (const unsigned char *)"\x08http/1.1", 9);
  double rate = atof(argv[3]), seconds = atof(argv[4]), warmup = atof(argv[6]);
  nconn = atoi(argv[5]);
  char *ports = argv[2];
  for (char *tok = strtok(ports, ","); tok && ntargets < MAXTARGETS; tok = strtok(NULL, ",")) {
    target_t *t = &targets[ntargets];
    t->addr.sin_family = AF_INET;
    if (strncmp(tok, "tls:", 4) == 0) {
      t->tls = 1;
      tok += 4;
    }
    t->addr.sin_port = htons((uint16_t)atoi(tok));
    if (inet_pton(AF_INET, argv[1], &t->addr.sin_addr) != 1) return 2;
    if (server_name)
      t->reqlen = (size_t)snprintf(t->req, sizeof t->req,
                                   "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: baton-fixed-rate\r\n\r\n", argv[7],
                                   server_name);
    else
      t->reqlen = (size_t)snprintf(t->req, sizeof t->req,
                                   "GET %s HTTP/1.1\r\nHost: %s:%s\r\nUser-Agent: baton-fixed-rate\r\n\r\n",
                                   argv[7], argv[1], tok);
    t->first = ntargets * nconn;
    ntargets++;
  }
  if (nconn < 1 || ntargets < 1 || ntargets * nconn > MAXCONN || rate <= 0) return 2;
  int ep = epoll_create1(0);
  for (int i = 0; i < ntargets * nconn; i++) {
    conns[i].target = i / nconn;
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
  int64_t next = start;  // due time of the next request (to every target at once)
  struct epoll_event evs[MAXCONN + 1];

  for (;;) {
    int64_t now = now_ns();
    while (next <= now && next < stop) {
      for (int k = 0; k < ntargets; k++) {
        target_t *t = &targets[k];
        if (t->qt - t->qh < QSZ) t->backlog[t->qt++ % QSZ] = next;
        else t->errors++;
      }
      next += interval;
    }
    // Hand due requests to free connections, rotating so every connection is used.
    int idle = 1;
    for (int k = 0; k < ntargets; k++) {
      target_t *t = &targets[k];
      while (t->qh < t->qt) {
        int found = -1;
        for (int j = 0; j < nconn; j++) {
          int i = t->first + (t->rr + j) % nconn;
          if (!conns[i].busy && conns[i].fd >= 0) {
            found = i;
            break;
          }
        }
        if (found < 0) break;
        t->rr = (found - t->first + 1) % nconn;
        conn_t *c = &conns[found];
        c->due = t->backlog[t->qh++ % QSZ];
        c->busy = 1;
        c->have = 0;
        t->sent++;
        if (send_req(c, t->req, t->reqlen) != (ssize_t)t->reqlen) {
          t->errors++;
          drop_conn(ep, found);
          open_conn(ep, found);
        }
      }
      if (t->qh != t->qt) idle = 0;
    }
    for (int i = 0; i < ntargets * nconn; i++)
      if (conns[i].busy) idle = 0;
    if (next >= stop && idle) break;
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
      target_t *t = &targets[c->target];
      // TLS: a readable socket may hold several records (and tickets after the handshake): read them all.
      for (;;) {
        ssize_t r = recv_some(c);
        if (r < 0) break;
        if (r == 0) {
          if (c->busy) t->errors++;
          drop_conn(ep, (int)id);
          c->busy = 0;
          open_conn(ep, (int)id);
          break;
        }
        c->have += (size_t)r;
        long done = complete(c->buf, c->have);
        if (done == 0 && c->have < BUFSZ) {
          if (!c->ssl) break;
          continue;
        }
        int64_t t2 = now_ns();
        if (done > 0 && memcmp(c->buf, "HTTP/1.1 2", 10) == 0) {
          t->ok++;
          record(t, c->due, t2);
        } else
          t->errors++;
        c->busy = 0;
        c->have = 0;
        if (!c->ssl) break;
      }
    }
  }
  for (int k = 0; k < ntargets; k++) {
    target_t *t = &targets[k];
    qsort(t->lat, t->nlat, sizeof *t->lat, cmp);
    printf("target=%d sent=%ld ok=%ld errors=%ld measured=%zu p50_us=%ld p90_us=%ld p99_us=%ld p999_us=%ld max_us=%ld\n",
           ntohs(t->addr.sin_port), t->sent, t->ok, t->errors, t->nlat, pct(t, 50), pct(t, 90), pct(t, 99),
           pct(t, 99.9), t->nlat ? (long)(t->lat[t->nlat - 1] / 1000) : -1);
  }
  return 0;
}
