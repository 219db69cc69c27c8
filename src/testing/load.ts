/**
 * A bounded load generator for demos, benchmarks and end-to-end tests (shipped so `npm run demo` and
 * `bench/` use the same one the tests trust). Traffic goes only where the caller points it.
 */
import { request as httpRequest } from 'node:http';
import { Agent, request } from 'undici';

export interface LoadReport {
  sent: number;
  ok: number;
  failed: number;
  /** First few failures, for the assertion message. */
  errors: string[];
  /** Response bodies seen, counted (the hello app answers with its version). */
  bodies: Map<string, number>;
  latenciesMs: number[];
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
}

/** One request on a fresh TCP connection (no pooling), the way a curl-like client arrives. */
function freshGet(url: URL): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { agent: false, headers: { connection: 'close' } }, (res) => {
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

/**
 * Continuous load against `base` until `stop()`: a steady rate, half on keep-alive connections (undici
 * pool), half on new connections. Counts anything but a 200 as failed. Bounded by the caller's stop().
 */
export function startLoad(
  base: string,
  opts: LoadOptions,
): { stop: () => Promise<LoadReport>; report: LoadReport } {
  const url = new URL(opts.path ?? '/', base);
  const agent = new Agent({ connections: opts.pool ?? 16, keepAliveTimeout: 10_000 });
  const report: LoadReport = { sent: 0, ok: 0, failed: 0, errors: [], bodies: new Map(), latenciesMs: [] };
  const pending = new Set<Promise<void>>();
  const tickMs = 10;
  const perTick = opts.rps / (1000 / tickMs);
  let credit = 0;
  let n = 0;
  const fire = () => {
    const keepAlive = opts.connections === 'keep-alive' || n++ % 2 === 0;
    const sentAt = performance.now();
    report.sent++;
    const p = (async () => {
      try {
        let status: number;
        let body: string;
        if (keepAlive) {
          const res = await request(url, { dispatcher: agent, headersTimeout: 15_000, bodyTimeout: 15_000 });
          status = res.statusCode;
          body = await res.body.text();
        } else {
          ({ status, body } = await freshGet(url));
        }
        const doneAt = performance.now();
        report.latenciesMs.push(doneAt - sentAt);
        opts.onResponse?.({ sentAt, doneAt, status, body });
        if (status === 200) {
          report.ok++;
          report.bodies.set(body.trim(), (report.bodies.get(body.trim()) ?? 0) + 1);
        } else {
          report.failed++;
          if (report.errors.length < 10) report.errors.push(`HTTP ${status}: ${body.slice(0, 200)}`);
        }
      } catch (err) {
        report.failed++;
        if (report.errors.length < 10)
          report.errors.push(`${keepAlive ? 'keep-alive' : 'new-conn'}: ${(err as Error).message}`);
      }
    })();
    pending.add(p);
    void p.finally(() => pending.delete(p));
  };
  const timer = setInterval(() => {
    credit += perTick;
    while (credit >= 1) {
      credit--;
      fire();
    }
  }, tickMs);
  let stopped: Promise<LoadReport> | undefined;
  return {
    report,
    stop() {
      // Idempotent: a test's finally may stop it again.
      stopped ??= (async () => {
        clearInterval(timer);
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
