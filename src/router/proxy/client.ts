import { request } from 'node:http';
import {
  BatonError,
  ConflictError,
  DriverError,
  type ErrorCode,
  InputError,
  NotFoundError,
  UnavailableError,
} from '../../core/errors.js';
import { autoCertFiles } from '../../spec/tls.js';
import type {
  Backend,
  DrainResult,
  RevisionSplit,
  RouteConfig,
  RouteMode,
  Router,
  RouteStatus,
} from '../router.js';
import { HANDED_OVER } from './handoff/protocol.js';
import { proxyPaths } from './paths.js';

/** Answer of `GET /health`. */
export interface ProxyHealth {
  ok: true;
  pid: number;
  routes: number;
  /** Pids of the worker processes serving the data path (empty when the proxy serves it itself). */
  workers?: number[];
  /** The HTTP listener (ACME challenges, redirects), when open. */
  httpListen?: string;
  /** Baton version and admin protocol of the proxy (absent before protocol 1: see protocol.ts). */
  version?: string;
  protocol?: number;
}

const DEFAULT_TIMEOUT_MS = 30_000;
const NOT_RUNNING = new Set(['ENOENT', 'ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ENOTSOCK']);

/**
 * One admin call over the unix socket: JSON in, JSON out. Errors the proxy reports come back as the
 * same Baton errors; a socket nobody answers on becomes an `UnavailableError`.
 */
export async function adminCall<T>(
  socketPath: string,
  method: string,
  path: string,
  body?: unknown,
  timeoutMs = DEFAULT_TIMEOUT_MS,
): Promise<T> {
  // A proxy that just handed over to a new one refuses changes (applied nowhere): the same call goes to
  // the new proxy, which by then answers on the same path.
  for (let attempt = 0; ; attempt++) {
    try {
      return await adminCallOnce<T>(socketPath, method, path, body, timeoutMs);
    } catch (e) {
      if (
        !(e instanceof BatonError) ||
        e.code !== 'UNAVAILABLE' ||
        !e.message.includes(HANDED_OVER) ||
        attempt >= 20
      )
        throw e;
      await new Promise((r) => setTimeout(r, 50 * Math.min(attempt + 1, 10)));
    }
  }
}

function adminCallOnce<T>(
  socketPath: string,
  method: string,
  path: string,
  body: unknown,
  timeoutMs: number,
): Promise<T> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise<T>((resolve, reject) => {
    const req = request(
      {
        socketPath,
        method,
        path,
        agent: false,
        headers:
          payload === undefined
            ? {}
            : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          const status = res.statusCode ?? 500;
          let parsed: unknown;
          try {
            parsed = text === '' ? undefined : JSON.parse(text);
          } catch {
            reject(
              new DriverError(
                'proxy',
                `admin ${method} ${path} answered ${status} with non-JSON: ${text.slice(0, 200)}`,
              ),
            );
            return;
          }
          if (status < 300) resolve(parsed as T);
          else reject(toError(status, parsed));
        });
      },
    );
    req.setTimeout(timeoutMs, () =>
      req.destroy(new DriverError('proxy', `admin ${method} ${path} timed out after ${timeoutMs} ms`)),
    );
    req.on('error', (e: NodeJS.ErrnoException) => {
      if (e instanceof BatonError) reject(e);
      else if (e.code && NOT_RUNNING.has(e.code)) {
        reject(
          new UnavailableError(`baton proxy is not running (nothing answers on ${socketPath}: ${e.code})`, e),
        );
      } else reject(new DriverError('proxy', `admin ${method} ${path} failed: ${e.message}`, e));
    });
    req.end(payload);
  });
}

function toError(status: number, body: unknown): BatonError {
  const { code, message } = (body ?? {}) as { code?: ErrorCode; message?: string };
  const msg = message ?? `admin call answered ${status}`;
  let e: BatonError;
  switch (code) {
    case 'BAD_INPUT':
      return new InputError(msg);
    case 'NOT_FOUND':
      e = new NotFoundError('');
      break;
    case 'CONFLICT':
      e = new ConflictError('', null, null);
      break;
    case 'DRIVER':
      e = new DriverError('proxy', '');
      break;
    default:
      return new BatonError(code ?? 'DRIVER', msg);
  }
  e.message = msg;
  return e;
}

/** `GET /health` with a short timeout; undefined when no proxy answers. */
export async function proxyHealth(socketPath: string, timeoutMs = 2000): Promise<ProxyHealth | undefined> {
  try {
    return await adminCall<ProxyHealth>(socketPath, 'GET', '/health', undefined, timeoutMs);
  } catch {
    return undefined;
  }
}

/** Router driver for Baton's embedded proxy, a separate process reached over its admin socket. */
export class ProxyRouter implements Router {
  readonly kind = 'proxy';
  readonly socketPath: string;

  /** Where the proxy's HTTP listener (ACME challenges, redirects) opens once a TLS service needs it. */
  readonly httpListen: string | undefined;
  private readonly dataDir: string;

  constructor(opts: { dataDir: string; httpListen?: string | undefined }) {
    this.socketPath = proxyPaths(opts.dataDir).socket;
    this.dataDir = opts.dataDir;
    this.httpListen = opts.httpListen;
  }

  private call<T>(method: string, path: string, body?: unknown, timeoutMs?: number): Promise<T> {
    return adminCall<T>(this.socketPath, method, path, body, timeoutMs);
  }

  async ensureRoute(route: RouteConfig): Promise<void> {
    // The HTTP listener opens with the first TLS service (a host without TLS needs no port 80).
    const needsHttp = route.tls === 'auto' || (route.tls !== undefined && route.redirectHttp !== false);
    if (needsHttp && this.httpListen !== undefined) await this.setHttpListen(this.httpListen);
    const tls =
      route.tls === 'auto' ? (route.hosts ?? []).map((h) => autoCertFiles(this.dataDir, h)) : route.tls;
    await this.call('PUT', svc(route.service), { ...route, tls });
  }

  /** Opens (moves; null closes) the proxy's HTTP listener; a no-op when it already listens there. */
  async setHttpListen(listen: string | null): Promise<void> {
    await this.call('PUT', '/http-listener', { listen });
  }

  /**
   * ACME HTTP-01: the proxy answers `GET /.well-known/acme-challenge/<token>` on its HTTP listener with
   * `keyAuthorization` (every worker, before this resolves). Opens the HTTP listener first if the router
   * was given one.
   */
  async setAcmeChallenge(token: string, keyAuthorization: string): Promise<void> {
    if (this.httpListen !== undefined) await this.setHttpListen(this.httpListen);
    await this.call('PUT', `/acme-challenges/${encodeURIComponent(token)}`, { keyAuthorization });
  }

  async deleteAcmeChallenge(token: string): Promise<void> {
    await this.call('DELETE', `/acme-challenges/${encodeURIComponent(token)}`);
  }

  async removeRoute(service: string): Promise<void> {
    await this.call('DELETE', svc(service));
  }

  async addBackends(service: string, backends: Backend[], opts: { standby?: boolean } = {}): Promise<void> {
    await this.call('POST', `${svc(service)}/backends`, { backends, standby: opts.standby === true });
  }

  async switchTo(service: string, ids: string[], add: Backend[] = []): Promise<void> {
    await this.call('POST', `${svc(service)}/switch`, { ids, add });
  }

  async drain(service: string, ids: string[]): Promise<void> {
    await this.call('POST', `${svc(service)}/drain`, { ids });
  }

  waitDrained(service: string, ids: string[], timeoutMs: number): Promise<DrainResult> {
    return this.call(
      'POST',
      `${svc(service)}/wait-drained`,
      { ids, timeoutMs },
      timeoutMs + DEFAULT_TIMEOUT_MS,
    );
  }

  async removeBackends(service: string, ids: string[]): Promise<void> {
    await this.call('DELETE', `${svc(service)}/backends`, { ids });
  }

  async setHealthy(service: string, id: string, healthy: boolean): Promise<void> {
    await this.call('POST', `${svc(service)}/health`, { id, healthy });
  }

  async setSplit(service: string, split: RevisionSplit | null): Promise<void> {
    await this.call('POST', `${svc(service)}/split`, { split });
  }

  async setPreview(service: string, revision: number | null): Promise<void> {
    await this.call('POST', `${svc(service)}/preview`, { revision });
  }

  async setMode(service: string, mode: RouteMode): Promise<void> {
    await this.call('POST', `${svc(service)}/mode`, { mode });
  }

  async status(service: string): Promise<RouteStatus | undefined> {
    try {
      return await this.call<RouteStatus>('GET', svc(service));
    } catch (e) {
      if (e instanceof NotFoundError) return undefined;
      throw e;
    }
  }

  /** Every route the proxy serves. */
  list(): Promise<RouteStatus[]> {
    return this.call('GET', '/routes');
  }

  health(): Promise<ProxyHealth> {
    return this.call('GET', '/health');
  }

  async close(): Promise<void> {
    // Every call uses its own connection; nothing to release. The proxy keeps running.
  }
}

const svc = (service: string): string => `/routes/${encodeURIComponent(service)}`;
