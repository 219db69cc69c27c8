import type { IncomingMessage, ServerResponse } from 'node:http';
import type { HttpDuty } from './door.js';
import { normalHost, pick } from './match.js';
import { parseListen } from './paths.js';
import type { ServiceTable } from './service.js';

const CHALLENGE_PATH = '/.well-known/acme-challenge/';
/** RFC 8555 tokens are base64url. */
const TOKEN = /^[A-Za-z0-9_-]{1,256}$/;

export function validChallengeToken(token: string): boolean {
  return TOKEN.test(token);
}

/**
 * What the proxy's HTTP listener (`baton serve --http-listen`) answers before any service: ACME HTTP-01
 * challenges (token -> key authorization, set by the control plane during an order) and 308 redirects to
 * https for the hosts of TLS services with `redirectHttp`.
 */
export class HttpListenerDuty implements HttpDuty {
  readonly challenges = new Map<string, string>();

  /** `tlsTables` lists the TLS services (with their listen address) at the time of the request. */
  constructor(private readonly tlsTables: () => Iterable<ServiceTable>) {}

  answer(req: IncomingMessage, res: ServerResponse): boolean {
    const url = req.url ?? '/';
    if (url.startsWith(CHALLENGE_PATH)) {
      const token = url.slice(CHALLENGE_PATH.length);
      const keyAuth = this.challenges.get(token);
      if (keyAuth === undefined) return false;
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(keyAuth) });
      res.end(keyAuth);
      return true;
    }
    const redirecting = [...this.tlsTables()].filter((t) => t.redirectHttp && t.hosts.length > 0);
    const target = pick(redirecting, req.headers.host, url);
    if (!target) return false;
    const port = parseListen(target.listen)?.port;
    const host = normalHost(req.headers.host);
    const location = `https://${host}${port === 443 || port === undefined ? '' : `:${port}`}${url[0] === '/' ? url : '/'}`;
    res.writeHead(308, { location, 'content-length': 0 });
    res.end();
    return true;
  }
}
