/**
 * A bounded load generator for demos, benchmarks and end-to-end tests (shipped so `npm run demo` and
 * `bench/` use the same one the tests trust). Traffic goes only where the caller points it.
 */
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { createSecureContext, type SecureContext } from 'node:tls';
import { Agent, request } from 'undici';

/** What one kind of connection carried. */
export interface KindReport {
  sent: number;
  ok: number;
  failed: number;
  /** Requests sent per second over the run (`sent` ÷ `LoadReport.elapsedMs`). */
  rps: number;
}

export interface LoadReport {
  sent: number;
  ok: number;
  failed: number;
  /** First few failures, for the assertion message. */
  errors: string[];
  /** Response bodies seen, counted (the hello app answers with its version). */
  bodies: Map<string, number>;
  latenciesMs: number[];
  /** From the start to now, or to `stop()` once stopped. */
  elapsedMs: number;
  /** The rate achieved: requests sent per second over `elapsedMs` (what was asked is `LoadOptions.rps`). */
  rps: number;
  /** Per connection kind: pooled keep-alive connections, and a new TCP connection per request. */
  kinds: { keepAlive: KindReport; newConnection: KindReport };
  /** The longest time between two requests sent: a generator held up (a busy event loop) shows here. */
  maxGapMs: number;
}

export interface LoadOptions {
  /** Requests per second, split evenly between keep-alive and new connections. */
  rps: number;
  path?: string;
  /** `mixed` (default): half keep-alive, half new connections; `keep-alive`: all on pooled connections. */
  connections?: 'mixed' | 'keep-alive';
  /** Keep-alive connections at most (default 16): long requests at a high rate need more. */
  pool?: number;
  /** Called with each completed response (time sent, time done, body). */
  onResponse?: (r: { sentAt: number; doneAt: number; status: number; body: string }) => void;
  /** Host header (and TLS server name) to send, for a proxy routing by host; default: from `base`. */
  host?: string;
  /** https: the CA (PEM) to trust; without it the server's certificate is not checked. */
  ca?: string | Buffer;
}

/**
 * One request on a fresh TCP connection (no pooling), the way a curl-like client arrives. Over TLS, a full
 * handshake every time (no session is offered), under `context`: made once per load, as a context per
 * connection costs the generator about a quarter of its CPU per request, which on a loaded machine is the
 * difference between the rate asked and the rate sent.
 */
function freshGet(
  url: URL,
  opts: LoadOptions,
  context: SecureContext | undefined,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { connection: 'close' };
    if (opts.host) headers.host = opts.host;
    const extra = context
      ? {
          servername: opts.host ?? url.hostname,
          secureContext: context,
          rejectUnauthorized: opts.ca !== undefined,
        }
      : {};
    const req = (context ? httpsRequest : httpRequest)(url, { agent: false, headers, ...extra }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        body += c;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.setTimeout(15_000, () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

/** At most this much of a late timer's backlog is sent at once (the rest is lost, and shows in `rps`). */
const MAX_CATCH_UP_MS = 1000;

/**
 * Continuous load against `base` until `stop()`: a steady rate, half on keep-alive connections (undici
 * pool), half on new connections. Counts anything but a 200 as failed. Bounded by the caller's stop().
 * The schedule follows the clock, not the timer's ticks: a tick that comes late (a loaded machine) sends
 * what was due since the last one (up to a second's worth), and the report says the rate achieved.
 */
export function startLoad(
  base: string,
  opts: LoadOptions,
): { stop: () => Promise<LoadReport>; report: LoadReport } {
  const url = new URL(opts.path ?? '/', base);
  const tls = url.protocol === 'https:';
  const agent = new Agent({
    connections: opts.pool ?? 16,
    keepAliveTimeout: 10_000,
    ...(tls
      ? {
          connect: {
            servername: opts.host ?? url.hostname,
            ca: opts.ca,
            rejectUnauthorized: opts.ca !== undefined,
          },
        }
      : {}),
  });
  const context = tls ? createSecureContext(opts.ca === undefined ? {} : { ca: opts.ca }) : undefined;
  const hostHeader = opts.host ? { host: opts.host } : undefined;
  const kind = (): KindReport => ({ sent: 0, ok: 0, failed: 0, rps: 0 });
  const report: LoadReport = {
    sent: 0,
    ok: 0,
    failed: 0,
    errors: [],
    bodies: new Map(),
    latenciesMs: [],
    elapsedMs: 0,
    rps: 0,
    kinds: { keepAlive: kind(), newConnection: kind() },
    maxGapMs: 0,
  };
  const pending = new Set<Promise<void>>();
  const tickMs = 10;
  const startedAt = performance.now();
  let stoppedAt: number | undefined;
  let lastSentAt = startedAt;
  // Requests due by now, from the start: rps × elapsed. `scheduled` counts those already sent or given up.
  let scheduled = 0;
  let n = 0;
  const measure = () => {
    report.elapsedMs = (stoppedAt ?? performance.now()) - startedAt;
    const perSecond = (count: number) => (report.elapsedMs > 0 ? (count * 1000) / report.elapsedMs : 0);
    report.rps = perSecond(report.sent);
    for (const k of [report.kinds.keepAlive, report.kinds.newConnection]) k.rps = perSecond(k.sent);
  };
  const fire = () => {
    const keepAlive = opts.connections === 'keep-alive' || n++ % 2 === 0;
    const counts = keepAlive ? report.kinds.keepAlive : report.kinds.newConnection;
    const sentAt = performance.now();
    report.maxGapMs = Math.max(report.maxGapMs, sentAt - lastSentAt);
    lastSentAt = sentAt;
    report.sent++;
    counts.sent++;
    const p = (async () => {
      try {
        let status: number;
        let body: string;
        if (keepAlive) {
          const res = await request(url, {
            dispatcher: agent,
            headersTimeout: 15_000,
            bodyTimeout: 15_000,
            ...(hostHeader ? { headers: hostHeader } : {}),
          });
          status = res.statusCode;
          body = await res.body.text();
        } else {
          ({ status, body } = await freshGet(url, opts, context));
        }
        const doneAt = performance.now();
        report.latenciesMs.push(doneAt - sentAt);
        opts.onResponse?.({ sentAt, doneAt, status, body });
        if (status === 200) {
          report.ok++;
          counts.ok++;
          report.bodies.set(body.trim(), (report.bodies.get(body.trim()) ?? 0) + 1);
        } else {
          report.failed++;
          counts.failed++;
          if (report.errors.length < 10) report.errors.push(`HTTP ${status}: ${body.slice(0, 200)}`);
        }
      } catch (err) {
        report.failed++;
        counts.failed++;
        if (report.errors.length < 10)
          report.errors.push(`${keepAlive ? 'keep-alive' : 'new-conn'}: ${(err as Error).message}`);
      }
    })();
    pending.add(p);
    void p.finally(() => pending.delete(p));
  };
  const timer = setInterval(() => {
    const now = performance.now();
    const due = Math.floor(((now - startedAt) * opts.rps) / 1000);
    // A backlog beyond a second's worth is dropped, not sent in one burst: the achieved rate shows it.
    scheduled = Math.max(scheduled, due - Math.ceil((MAX_CATCH_UP_MS * opts.rps) / 1000));
    while (scheduled < due) {
      scheduled++;
      fire();
    }
    measure();
  }, tickMs);
  let stopped: Promise<LoadReport> | undefined;
  return {
    report,
    stop() {
      // Idempotent: a test's finally may stop it again.
      stopped ??= (async () => {
        clearInterval(timer);
        stoppedAt = performance.now();
        measure();
        await Promise.all([...pending]);
        await agent.close();
        return report;
      })();
      return stopped;
    },
  };
}

export function percentile(values: number[], p: number): number {
  if (!values.length) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}
