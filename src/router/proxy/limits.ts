import type { IncomingMessage, Server, ServerOptions } from 'node:http';
import type { RouteLimits } from '../router.js';

/**
 * Defaults of the per-service limits (docs/proxy.md lists them beside HAProxy's and nginx's). Only
 * inactivity is timed: a slow but live upload or download is never cut by an overall request timeout.
 */
export const ROUTE_LIMIT_DEFAULTS: RouteLimits = {
  headTimeoutMs: 15_000,
  connectTimeoutMs: 5_000,
  responseTimeoutMs: 60_000,
  maxBodyBytes: 0,
};

/**
 * Accept queue of the proxy's listeners (Node's default is 511; the kernel caps it at somaxconn). A worker
 * that stalls for a moment (a GC pause, a busy host) lets connections wait here rather than have the kernel
 * drop their handshakes, which clients see as connect timeouts or resets. HAProxy sizes it from maxconn.
 */
export const LISTEN_BACKLOG = 4096;

/** Largest request head (request line and headers) a client may send (then 431). */
export const MAX_HEAD_BYTES = 16 * 1024;
/** Most header fields in one request (then 431); HAProxy's default is 101. */
export const MAX_HEADER_COUNT = 100;

export function routeLimits(given: Partial<RouteLimits> | undefined): RouteLimits {
  return given === undefined ? ROUTE_LIMIT_DEFAULTS : { ...ROUTE_LIMIT_DEFAULTS, ...given };
}

/**
 * The client-facing listener's options owned by the edge limits (the keep-alive timeout is set apart).
 * Node checks its timers every `connectionsCheckingInterval`, so that bounds how late a 408 comes.
 */
export function edgeServerOptions(limits: RouteLimits): ServerOptions {
  return {
    headersTimeout: limits.headTimeoutMs,
    requestTimeout: 0,
    connectionsCheckingInterval: Math.min(1000, limits.headTimeoutMs),
    maxHeaderSize: MAX_HEAD_BYTES,
  };
}

/** A route's new limits on its open listeners (a new head timeout applies to the next requests). */
export function applyEdgeLimits(servers: Array<Server | undefined>, limits: RouteLimits): void {
  for (const s of servers) if (s !== undefined) s.headersTimeout = limits.headTimeoutMs;
}

/** The answer the listener gives to a client error node reports (`clientError`). */
export function clientErrorStatus(code: string | undefined): string {
  if (code === 'HPE_HEADER_OVERFLOW') return '431 Request Header Fields Too Large';
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') return '408 Request Timeout';
  return '400 Bad Request';
}

/**
 * Checks of a parsed request before it is forwarded: an error status and reason, or undefined.
 * Two `Host` headers, or an absolute-form target naming another authority than `Host`, are ambiguous
 * (a cache or a backend may take the other one): 400, as HAProxy answers.
 */
export function requestProblem(req: IncomingMessage, limits: RouteLimits): [number, string] | undefined {
  const raw = req.rawHeaders;
  if (raw.length / 2 > MAX_HEADER_COUNT) return [431, `more than ${MAX_HEADER_COUNT} header fields`];
  let hosts = 0;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.length === 4 && name.toLowerCase() === 'host') hosts++;
  }
  if (hosts > 1) return [400, 'more than one Host header'];
  const url = req.url ?? '/';
  if (url[0] !== '/' && url !== '*') {
    let authority: string;
    try {
      authority = new URL(url).host;
    } catch {
      return [400, 'request target is neither a path nor an absolute URL'];
    }
    const host = (req.headers.host ?? '').toLowerCase().replace(/:80$/, '');
    if (authority !== host) return [400, 'absolute request target names another host than the Host header'];
  }
  const max = limits.maxBodyBytes;
  if (max > 0) {
    const length = req.headers['content-length'];
    if (length !== undefined && Number(length) > max) return [413, `request body larger than ${max} bytes`];
  }
  return undefined;
}
