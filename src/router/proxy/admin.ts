import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { isAbsolute } from 'node:path';
import type { Logger } from 'pino';
import { BatonError, DriverError, InputError, NotFoundError } from '../../core/errors.js';
import { hostProblem } from '../host-name.js';
import type { Backend, RouteConfig, RouteLimits } from '../router.js';
import { parseMode, parsePreviewRevision, parseSplit } from '../validate.js';
import { ADMIN_PROTOCOL, handedOffError, PROXY_VERSION } from './handoff/protocol.js';
import type { ProxyServer } from './server.js';

const MAX_BODY = 1 << 20;

const STATUS: Record<string, number> = {
  BAD_INPUT: 400,
  SPEC_INVALID: 400,
  NOT_FOUND: 404,
  CONFLICT: 409,
  UNAVAILABLE: 503,
};

/**
 * The admin API (HTTP + JSON on the unix socket), one route per Router method:
 *   GET /health · GET /routes · GET|PUT|DELETE /routes/:service
 *   POST|DELETE /routes/:service/backends · POST /routes/:service/{switch,drain,wait-drained,health}
 *   POST /routes/:service/split {split} · POST /routes/:service/preview {revision} · POST /routes/:service/mode {mode}
 *   PUT /http-listener {listen|null} · PUT|DELETE /acme-challenges/:token {keyAuthorization}
 * Errors answer `{code, message}` with 400/404/409/500.
 */
export function adminServer(proxy: ProxyServer, log: Logger): Server {
  return createServer((req, res) => {
    handle(proxy, req, res).catch((e: unknown) => {
      const err =
        e instanceof BatonError ? e : new DriverError('proxy', (e as Error).message ?? String(e), e);
      if (!(e instanceof BatonError))
        log.error({ err: e, method: req.method, url: req.url }, 'admin call failed');
      send(res, STATUS[err.code] ?? 500, err.toJSON());
    });
  });
}

/** Listens on the unix socket path (the caller removed any stale file first). */
export function listenAdmin(server: Server, socketPath: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) =>
      reject(
        e.code === 'EADDRINUSE'
          ? new DriverError('proxy', `another baton proxy is already running on ${socketPath}`, e)
          : new DriverError('proxy', `cannot listen on admin socket ${socketPath}: ${e.message}`, e),
      ),
    );
    server.listen(socketPath, () => {
      server.removeAllListeners('error');
      resolve();
    });
  });
}

async function handle(proxy: ProxyServer, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://proxy');
  const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
  const method = req.method ?? 'GET';
  if (parts.length === 1 && parts[0] === 'health' && method === 'GET') {
    return send(res, 200, {
      ok: true,
      pid: process.pid,
      routes: proxy.routeCount,
      workers: proxy.workerPids,
      ...(proxy.httpListen === undefined ? {} : { httpListen: proxy.httpListen }),
      version: PROXY_VERSION,
      protocol: ADMIN_PROTOCOL,
    });
  }
  if (parts.length === 1 && parts[0] === 'handoff' && method === 'POST') return handoff(proxy, req, res);
  // After a handoff this proxy's tables and counters are no longer the truth: every call goes to the new one.
  if (proxy.handedOver) throw handedOffError();
  if (parts.length === 1 && parts[0] === 'http-listener' && method === 'PUT') {
    const b = await body(req);
    await proxy.setHttpListen(b.listen === null ? null : str(b.listen, 'listen'));
    return send(res, 200, {});
  }
  if (parts.length === 2 && parts[0] === 'acme-challenges') {
    const token = parts[1]!;
    if (method === 'PUT') {
      await proxy.setChallenge(token, str((await body(req)).keyAuthorization, 'keyAuthorization'));
      return send(res, 200, {});
    }
    if (method === 'DELETE') {
      await proxy.deleteChallenge(token);
      return send(res, 200, {});
    }
  }
  if (parts[0] !== 'routes') throw new NotFoundError(`admin path ${method} ${url.pathname}`);
  if (parts.length === 1 && method === 'GET') return send(res, 200, await proxy.list());
  const service = parts[1];
  if (!service) throw new NotFoundError(`admin path ${method} ${url.pathname}`);
  const action = parts.length === 2 ? '' : parts.slice(2).join('/');
  const key = `${method} ${action}`;
  switch (key) {
    case 'GET ': {
      const status = await proxy.status(service);
      if (!status) throw new NotFoundError(`route for service ${service}`);
      return send(res, 200, status);
    }
    case 'PUT ': {
      const b = await body(req);
      const route: RouteConfig = {
        service,
        listen: str(b.listen, 'listen'),
        drainTimeoutMs: num(b.drainTimeoutMs ?? 30_000, 'drainTimeoutMs'),
      };
      if (b.keepAliveTimeoutMs !== undefined && b.keepAliveTimeoutMs !== null)
        route.keepAliveTimeoutMs = num(b.keepAliveTimeoutMs, 'keepAliveTimeoutMs');
      if (b.preview !== undefined && b.preview !== null) route.preview = str(b.preview, 'preview');
      if (b.limits !== undefined && b.limits !== null) route.limits = limits(b.limits);
      if (b.hosts !== undefined && b.hosts !== null) route.hosts = hosts(b.hosts);
      if (b.pathPrefix !== undefined && b.pathPrefix !== null) route.pathPrefix = prefix(b.pathPrefix);
      if (b.upstream !== undefined && b.upstream !== null) {
        if (b.upstream !== 'http1' && b.upstream !== 'h2c')
          throw new InputError('upstream must be http1 or h2c');
        route.upstream = b.upstream;
      }
      if (b.tls !== undefined && b.tls !== null) {
        if (!Array.isArray(b.tls) || b.tls.length === 0)
          throw new InputError('tls must be a list of {cert, key} file paths');
        route.tls = b.tls.map((x: unknown, i) => {
          const t = (x ?? {}) as Record<string, unknown>;
          return { cert: str(t.cert, `tls[${i}].cert`), key: str(t.key, `tls[${i}].key`) };
        });
        if (b.redirectHttp !== undefined && b.redirectHttp !== null) {
          if (typeof b.redirectHttp !== 'boolean') throw new InputError('redirectHttp must be true or false');
          route.redirectHttp = b.redirectHttp;
        }
      }
      await proxy.ensureRoute(route);
      return send(res, 200, await proxy.status(service));
    }
    case 'DELETE ':
      await proxy.removeRoute(service);
      return send(res, 200, {});
    case 'POST backends': {
      const b = await body(req);
      if (!Array.isArray(b.backends)) throw new InputError('backends must be a list');
      if (b.standby !== undefined && typeof b.standby !== 'boolean')
        throw new InputError('standby must be true or false');
      await proxy.addBackends(service, b.backends.map(backend), { standby: b.standby === true });
      return send(res, 200, {});
    }
    case 'DELETE backends':
      await proxy.removeBackends(service, ids((await body(req)).ids));
      return send(res, 200, {});
    case 'POST switch': {
      const b = await body(req);
      if (b.add !== undefined && !Array.isArray(b.add))
        throw new InputError('add must be a list of backends');
      await proxy.switchTo(service, ids(b.ids), Array.isArray(b.add) ? b.add.map(backend) : []);
      return send(res, 200, {});
    }
    case 'POST drain':
      await proxy.drain(service, ids((await body(req)).ids));
      return send(res, 200, {});
    case 'POST wait-drained': {
      const b = await body(req);
      return send(res, 200, await proxy.waitDrained(service, ids(b.ids), num(b.timeoutMs, 'timeoutMs')));
    }
    case 'POST health': {
      const b = await body(req);
      if (typeof b.healthy !== 'boolean') throw new InputError('healthy must be true or false');
      await proxy.setHealthy(service, str(b.id, 'id'), b.healthy);
      return send(res, 200, {});
    }
    case 'POST split': {
      const b = await body(req);
      if (!('split' in b)) throw new InputError('split must be given (an object, or null for no split)');
      await proxy.setSplit(service, parseSplit(b.split));
      return send(res, 200, {});
    }
    case 'POST preview': {
      const b = await body(req);
      if (!('revision' in b)) throw new InputError('revision must be given (a number, or null for none)');
      await proxy.setPreview(service, parsePreviewRevision(b.revision));
      return send(res, 200, {});
    }
    case 'POST mode':
      await proxy.setMode(service, parseMode((await body(req)).mode));
      return send(res, 200, {});
    default:
      throw new NotFoundError(`admin path ${method} ${url.pathname}`);
  }
}

/**
 * `POST /handoff {entry, node?, drainTimeoutMs?}`: answers NDJSON, one line per step (`handoff.ts`), then
 * `{done: true, pid}` or `{error: {code, message}}` (the old proxy then keeps serving).
 */
async function handoff(proxy: ProxyServer, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const b = await body(req);
  const entry = str(b.entry, 'entry');
  if (!isAbsolute(entry)) throw new InputError('entry must be an absolute path');
  const node = b.node === undefined ? undefined : str(b.node, 'node');
  const drain = b.drainTimeoutMs === undefined ? undefined : num(b.drainTimeoutMs, 'drainTimeoutMs');
  const killAt = b.killAt === undefined ? undefined : str(b.killAt, 'killAt');
  res.writeHead(200, { 'content-type': 'application/x-ndjson' });
  const line = (v: unknown): void => {
    res.write(`${JSON.stringify(v)}\n`);
  };
  try {
    const { pid } = await proxy.handOff({ entry, node, drainTimeoutMs: drain, killAt }, line);
    line({ done: true, pid });
  } catch (e) {
    const err = e instanceof BatonError ? e : new DriverError('proxy', (e as Error).message ?? String(e), e);
    line({ error: err.toJSON() });
  }
  res.end();
}

function send(res: ServerResponse, status: number, value: unknown): void {
  const text = JSON.stringify(value ?? {});
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function body(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req as AsyncIterable<Buffer>) {
    size += c.length;
    if (size > MAX_BODY) throw new InputError('admin request body too large');
    chunks.push(c);
  }
  if (size === 0) return {};
  let v: unknown;
  try {
    v = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new InputError('admin request body is not JSON');
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    throw new InputError('admin request body must be an object');
  return v as Record<string, unknown>;
}

function str(v: unknown, name: string): string {
  if (typeof v !== 'string' || v === '') throw new InputError(`${name} must be a non-empty string`);
  return v;
}

function num(v: unknown, name: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0)
    throw new InputError(`${name} must be a number >= 0`);
  return v;
}

const LIMIT_FIELDS = ['headTimeoutMs', 'connectTimeoutMs', 'responseTimeoutMs', 'maxBodyBytes'] as const;

function limits(v: unknown): Partial<RouteLimits> {
  if (typeof v !== 'object' || v === null) throw new InputError('limits must be an object');
  const out: Partial<RouteLimits> = {};
  for (const k of LIMIT_FIELDS) {
    const x = (v as Record<string, unknown>)[k];
    if (x !== undefined) out[k] = num(x, `limits.${k}`);
  }
  return out;
}

function ids(v: unknown): string[] {
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string'))
    throw new InputError('ids must be a list of strings');
  return v as string[];
}

function backend(v: unknown): Backend {
  const o = (v ?? {}) as Record<string, unknown>;
  const address = str(o.address, 'backend address');
  if (!/^(\[[^\]]+\]|[^:\s]+):\d{1,5}$/.test(address))
    throw new InputError(`backend address "${address}" is not host:port`);
  const b: Backend = { id: str(o.id, 'backend id'), address, revision: num(o.revision, 'backend revision') };
  if (o.weight !== undefined) b.weight = num(o.weight, 'backend weight');
  return b;
}

function hosts(v: unknown): string[] {
  if (!Array.isArray(v) || !v.every((h) => typeof h === 'string' && hostProblem(h) === undefined))
    throw new InputError('hosts must be a list of host names (a wildcard only as the first label)');
  return (v as string[]).map((h) => h.toLowerCase());
}

function prefix(v: unknown): string {
  if (typeof v !== 'string' || !v.startsWith('/')) throw new InputError('pathPrefix must start with /');
  return v;
}
