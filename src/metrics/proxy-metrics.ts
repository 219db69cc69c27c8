import { Counter, Gauge } from 'prom-client';
import type { ListenerStats, RevisionStats, RouteStatus } from '../router/router.js';
import { BucketHistogram } from './bucket-histogram.js';
import type { Scrape } from './scrape.js';

/** Status classes of `RevisionStats.classes`, by index: an attempt that got no answer, then 1xx–5xx. */
const CLASSES = ['none', '1xx', '2xx', '3xx', '4xx', '5xx'] as const;

type Labels = Record<string, string>;

/**
 * The embedded proxy's metrics, computed at scrape time from the status the proxy already keeps (summed
 * over its workers by the primary): the request path pays only the integer increments it always made.
 * Request metrics are labelled by service and revision, never by instance.
 */
export function registerProxyMetrics(scrape: Scrape, source: () => Promise<RouteStatus[]>): void {
  let routes: RouteStatus[] = [];
  let up = 0;
  scrape.beforeScrape(async () => {
    try {
      routes = await source();
      up = 1;
    } catch {
      routes = [];
      up = 0;
    }
  });
  const registers = [scrape.registry];
  const each = (fn: (r: RouteStatus, rev: RevisionStats, labels: Labels) => void) => {
    for (const r of routes)
      for (const rev of r.revisions) fn(r, rev, { service: r.service, revision: String(rev.revision) });
  };
  /** A counter or gauge whose values are set from the snapshot at each scrape. */
  const counter = <T extends string>(
    name: string,
    help: string,
    labelNames: T[],
    fill: (set: (labels: Labels, v: number) => void) => void,
  ) =>
    new Counter({
      name,
      help,
      labelNames,
      registers,
      collect() {
        this.reset();
        fill((labels, v) => this.inc(labels as Partial<Record<T, string>>, v));
      },
    });
  const gauge = <T extends string>(
    name: string,
    help: string,
    labelNames: T[],
    fill: (set: (labels: Labels, v: number) => void) => void,
  ) =>
    new Gauge({
      name,
      help,
      labelNames,
      registers,
      collect() {
        this.reset();
        fill((labels, v) => this.set(labels as Partial<Record<T, string>>, v));
      },
    });

  gauge('baton_proxy_up', 'Whether the embedded proxy answered this scrape (1) or not (0).', [], (set) =>
    set({}, up),
  );
  counter(
    'baton_proxy_requests_total',
    'Requests sent to backends (attempts; a retried request counts each attempt), by the status class the backend answered (none: no answer).',
    ['service', 'revision', 'status_class'],
    (set) =>
      each((_r, rev, labels) => {
        const classes = rev.classes ?? [];
        CLASSES.forEach((c, i) => {
          set({ ...labels, status_class: c }, classes[i] ?? 0);
        });
      }),
  );
  counter(
    'baton_proxy_request_errors_total',
    'Requests answered 5xx, cut, or that could not reach a backend: what the canary analysis counts as errors.',
    ['service', 'revision'],
    (set) => each((_r, rev, labels) => set(labels, rev.errors)),
  );
  new BucketHistogram(
    'baton_proxy_request_duration_seconds',
    'Time from a request reaching the proxy until its response ended (or the attempt failed).',
    () => {
      const out: Array<{ labels: Labels; bounds: number[]; counts: number[]; sum: number }> = [];
      each((_r, rev, labels) =>
        out.push({
          labels,
          bounds: rev.latency.bounds.map((ms) => ms / 1000),
          counts: rev.latency.counts,
          sum: (rev.latency.sumMs ?? 0) / 1000,
        }),
      );
      return out;
    },
  ).register(scrape.registry);
  counter(
    'baton_proxy_upstream_connect_errors_total',
    'Attempts that could not connect to a backend (refused, unreachable, connect timeout).',
    ['service', 'revision'],
    (set) => each((_r, rev, labels) => set(labels, rev.connectErrors ?? 0)),
  );
  counter(
    'baton_proxy_upstream_retries_total',
    'Requests sent again to another backend of the same revision after a failed attempt.',
    ['service', 'revision'],
    (set) => each((_r, rev, labels) => set(labels, rev.retries ?? 0)),
  );
  const perRevision =
    (pick: (b: RouteStatus['backends'][number]) => number) => (set: (l: Labels, v: number) => void) => {
      for (const r of routes) {
        const sums = new Map<number, number>();
        for (const rev of r.revisions) sums.set(rev.revision, 0);
        for (const b of r.backends) sums.set(b.revision, (sums.get(b.revision) ?? 0) + pick(b));
        for (const [revision, v] of sums) set({ service: r.service, revision: String(revision) }, v);
      }
    };
  gauge(
    'baton_proxy_requests_in_flight',
    'Requests being proxied now.',
    ['service', 'revision'],
    perRevision((b) => b.inFlight),
  );
  gauge(
    'baton_proxy_websockets_open',
    'WebSocket tunnels open now.',
    ['service', 'revision'],
    perRevision((b) => b.websockets),
  );
  gauge(
    'baton_proxy_backends',
    'Backends by state (active, draining, standby) and health (passive and probe health).',
    ['service', 'revision', 'state', 'healthy'],
    (set) => {
      for (const r of routes) {
        const n = new Map<string, { labels: Labels; v: number }>();
        for (const b of r.backends) {
          const labels = {
            service: r.service,
            revision: String(b.revision),
            state: b.state,
            healthy: String(b.healthy),
          };
          const key = JSON.stringify(labels);
          const e = n.get(key) ?? { labels, v: 0 };
          e.v++;
          n.set(key, e);
        }
        for (const { labels, v } of n.values()) set(labels, v);
      }
    },
  );
  gauge(
    'baton_proxy_requests_held',
    'Requests waiting while the route is in hold mode.',
    ['service'],
    (set) => {
      for (const r of routes) set({ service: r.service }, r.held ?? 0);
    },
  );
  // Per listening address, counted once: services sharing a listener each report its counters.
  const byListener =
    (pick: (l: ListenerStats) => number | undefined, tlsOnly = false) =>
    (set: (l: Labels, v: number) => void) => {
      const seen = new Set<string>();
      for (const r of routes)
        for (const l of r.listeners ?? []) {
          if (seen.has(l.address) || (tlsOnly && !l.tls)) continue;
          seen.add(l.address);
          set({ listener: l.address, role: l.role }, pick(l) ?? 0);
        }
    };
  counter(
    'baton_proxy_connections_total',
    'Client connections accepted, per listening address (role main: production traffic; preview).',
    ['listener', 'role'],
    byListener((l) => l.accepted),
  );
  gauge(
    'baton_proxy_connections_open',
    'Client connections open now, per listening address.',
    ['listener', 'role'],
    byListener((l) => l.open),
  );
  counter(
    'baton_proxy_tls_handshakes_total',
    'TLS handshakes completed, per TLS listening address.',
    ['listener', 'role'],
    byListener((l) => l.handshakes, true),
  );
  counter(
    'baton_proxy_tls_handshake_errors_total',
    'TLS handshakes that failed (no certificate for the name, protocol error, client gave up), per TLS listening address.',
    ['listener', 'role'],
    byListener((l) => l.handshakeErrors, true),
  );
  gauge(
    'baton_proxy_certificate_expiry_timestamp_seconds',
    'When each certificate the proxy serves stops being valid (Unix time), by its file and first name.',
    ['file', 'name'],
    (set) => {
      const seen = new Set<string>();
      for (const r of routes)
        for (const c of r.certificates ?? []) {
          if (seen.has(c.file)) continue;
          seen.add(c.file);
          set({ file: c.file, name: c.names[0] ?? '' }, Date.parse(c.notAfter) / 1000);
        }
    },
  );
}
