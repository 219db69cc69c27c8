import { randomUUID } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One call the fake answered, as the tests read it back. */
export interface Call {
  /** OCI's operation name, e.g. `CreateContainerInstance`, `GetBackendHealth`. */
  op: string;
  method: string;
  path: string;
  query: Record<string, string>;
  body: unknown;
  status: number;
  retryToken?: string | undefined;
  /** Set when the answer was an injected fault (`before`: nothing changed; `after`: the change was made). */
  fault?: 'before' | 'after' | undefined;
}

export interface Reply {
  status: number;
  body?: unknown;
  /** Sent as text/plain (retrieveLogs) instead of JSON. */
  text?: string | undefined;
  headers?: Record<string, string> | undefined;
}

export interface Ctx {
  params: Record<string, string>;
  query: URLSearchParams;
  body: unknown;
  headers: IncomingHttpHeaders;
}

export type Handler = (ctx: Ctx) => Reply | Promise<Reply>;

interface Route {
  op: string;
  method: string;
  pattern: RegExp;
  keys: string[];
  handler: Handler;
}

/** OCI's error body. */
export const error = (
  status: number,
  code: string,
  message: string,
  headers?: Record<string, string>,
): Reply => ({
  status,
  body: { code, message },
  headers,
});

export const notFound = (what: string): Reply =>
  error(404, 'NotAuthorizedOrNotFound', `Authorization failed or requested resource not found: ${what}`);

/** Faults injected into answers; see `FakeOci.inject` and `FakeOci.failNext`. */
export interface FaultPlan {
  /** Share of eligible calls that fail (0–1), drawn from a seeded generator. */
  rate: number;
  /** Statuses to fail with, picked in turn (default [429, 500]). */
  statuses?: number[] | undefined;
  /** `Retry-After` (seconds) sent with a 429 (default 1). */
  retryAfterSeconds?: number | undefined;
  /** Which operations may fail (default: all). */
  ops?: string[] | undefined;
  /** Share of failing writes that fail AFTER making the change (lost answer), default 0.5. */
  afterShare?: number | undefined;
  seed?: number | undefined;
}

interface OneShot {
  op: string;
  status?: number | undefined;
  delayMs?: number | undefined;
  retryAfterSeconds?: number | undefined;
  after?: boolean | undefined;
  times: number;
}

/** A small deterministic generator (mulberry32), so a fault plan fails the same calls every run. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WRITE = new Set(['POST', 'PUT', 'DELETE']);

/**
 * The HTTP side of the fake: routes by method and path template, records every call, replays a write
 * that carries an `opc-retry-token` it has seen (OCI's idempotency), and injects faults.
 */
export class FakeHttp {
  readonly calls: Call[] = [];
  private readonly routes: Route[] = [];
  private readonly tokens = new Map<string, Reply>();
  private readonly oneShots: OneShot[] = [];
  private plan: (FaultPlan & { random: () => number; n: number }) | undefined;
  private server: Server | undefined;
  url = '';

  route(method: string, template: string, op: string, handler: Handler): void {
    const keys: string[] = [];
    const source = template.replace(/\{(\w+)\}/g, (_, k: string) => {
      keys.push(k);
      return '([^/]+)';
    });
    this.routes.push({ op, method, pattern: new RegExp(`^${source}$`), keys, handler });
  }

  /** Fails a share of calls from now on (null: stop). */
  inject(plan: FaultPlan | null): void {
    this.plan = plan ? { ...plan, random: seeded(plan.seed ?? 1), n: 0 } : undefined;
  }

  /** The next `times` calls of `op` answer `status` (or are delayed by `delayMs`, then answered normally). */
  failNext(op: string, shot: Omit<OneShot, 'op' | 'times'> & { times?: number }): void {
    this.oneShots.push({ op, times: 1, ...shot });
  }

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        void this.handle(req.method ?? 'GET', req.url ?? '/', req.headers, raw).then((reply) => {
          if (res.destroyed) return;
          const headers: Record<string, string> = { 'opc-request-id': randomUUID(), ...reply.headers };
          if (reply.text !== undefined) {
            res.writeHead(reply.status, { ...headers, 'content-type': 'text/plain' });
            res.end(reply.text);
          } else if (reply.body === undefined) {
            res.writeHead(reply.status, headers);
            res.end();
          } else {
            res.writeHead(reply.status, { ...headers, 'content-type': 'application/json' });
            res.end(JSON.stringify(reply.body));
          }
        });
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
  }

  private async handle(
    method: string,
    rawUrl: string,
    headers: IncomingHttpHeaders,
    raw: string,
  ): Promise<Reply> {
    const url = new URL(rawUrl, 'http://fake');
    let body: unknown;
    try {
      body = raw ? JSON.parse(raw) : undefined;
    } catch {
      body = raw;
    }
    const query = Object.fromEntries(url.searchParams);
    for (const r of this.routes) {
      if (r.method !== method) continue;
      const m = r.pattern.exec(url.pathname);
      if (!m) continue;
      const params = Object.fromEntries(r.keys.map((k, i) => [k, decodeURIComponent(m[i + 1]!)]));
      const token = headers['opc-retry-token'] as string | undefined;
      const call: Call = { op: r.op, method, path: url.pathname, query, body, status: 0, retryToken: token };
      this.calls.push(call);
      const fault = await this.fault(r.op, WRITE.has(method));
      if (fault?.phase === 'before') return this.answer(call, fault.reply, 'before');
      const key = token && WRITE.has(method) ? `${r.op}|${token}` : undefined;
      let reply = key ? this.tokens.get(key) : undefined;
      if (!reply) {
        reply = await r.handler({ params, query: url.searchParams, body, headers });
        if (key && reply.status < 300) this.tokens.set(key, reply);
      }
      if (fault?.phase === 'after') return this.answer(call, fault.reply, 'after');
      return this.answer(call, reply);
    }
    this.calls.push({ op: 'Unknown', method, path: url.pathname, query, body, status: 404 });
    return error(404, 'NotFound', `no route for ${method} ${url.pathname}`);
  }

  private answer(call: Call, reply: Reply, fault?: 'before' | 'after'): Reply {
    call.status = reply.status;
    if (fault) call.fault = fault;
    return reply;
  }

  private async fault(
    op: string,
    write: boolean,
  ): Promise<{ phase: 'before' | 'after'; reply: Reply } | undefined> {
    const shot = this.oneShots.find((s) => s.op === op && s.times > 0);
    if (shot) {
      shot.times--;
      if (shot.delayMs) await new Promise((r) => setTimeout(r, shot.delayMs));
      if (shot.status)
        return {
          phase: shot.after ? 'after' : 'before',
          reply: faultReply(shot.status, shot.retryAfterSeconds ?? 1),
        };
      return undefined;
    }
    const p = this.plan;
    if (!p || (p.ops && !p.ops.includes(op)) || p.random() >= p.rate) return undefined;
    const statuses = p.statuses ?? [429, 500];
    const status = statuses[p.n++ % statuses.length]!;
    const after = write && p.random() < (p.afterShare ?? 0.5);
    return { phase: after ? 'after' : 'before', reply: faultReply(status, p.retryAfterSeconds ?? 1) };
  }
}

function faultReply(status: number, retryAfterSeconds: number): Reply {
  if (status === 429)
    return error(429, 'TooManyRequests', 'Too many requests for the tenancy', {
      'retry-after': String(retryAfterSeconds),
    });
  return error(
    status,
    status === 503 ? 'ServiceUnavailable' : 'InternalServerError',
    'Internal error (injected)',
  );
}
