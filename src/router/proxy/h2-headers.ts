import type { IncomingMessage } from 'node:http';
import type { Http2ServerRequest } from 'node:http2';
import { downstreamHeaders, pushForwarded } from './headers.js';

/**
 * Fields of an HTTP/2 request that do not go on to an HTTP/1.1 instance. nghttp2 already refuses a
 * request with connection-specific fields (RFC 9113 §8.2.2) as malformed; `te: trailers` is allowed in
 * HTTP/2 but hop-by-hop in HTTP/1.1.
 */
const NOT_FORWARDED = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
  'te',
]);

/**
 * An HTTP/2 request's fields for an HTTP/1.1 upstream request, pushed onto `out` as `[name, value, …]`:
 * pseudo-headers dropped, `:authority` as `Host` when the client sent no Host, split `cookie` fields
 * joined again with "; " (RFC 9113 §8.2.3), `X-Forwarded-*` as for HTTP/1.1. Returns whether the request
 * has a body (its HEADERS frame did not end the stream).
 */
export function h2UpstreamHeaders(req: IncomingMessage, out: string[]): boolean {
  const raw = req.rawHeaders;
  let authority: string | undefined;
  let host: string | undefined;
  let prior: string | undefined;
  let cookie: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const value = raw[i + 1]!;
    if (name.charCodeAt(0) === 58 /* ':' */) {
      if (name === ':authority') authority = value;
      continue;
    }
    // HTTP/2 field names are lowercase (nghttp2 refuses others).
    if (NOT_FORWARDED.has(name)) continue;
    switch (name) {
      case 'x-forwarded-for':
        prior = prior === undefined ? value : `${prior}, ${value}`;
        continue;
      case 'x-forwarded-proto':
      case 'x-forwarded-host':
        continue;
      case 'cookie':
        cookie = cookie === undefined ? value : `${cookie}; ${value}`;
        continue;
      case 'host':
        host ??= value;
        break;
    }
    out.push(name, value);
  }
  if (host === undefined && authority !== undefined) {
    host = authority;
    out.push('host', authority);
  }
  if (cookie !== undefined) out.push('cookie', cookie);
  const client = downstreamAddress(req);
  pushForwarded(out, prior, client, 'https', host);
  return !(req as unknown as Http2ServerRequest).stream.endAfterHeaders;
}

function downstreamAddress(req: IncomingMessage): string {
  return (req as unknown as Http2ServerRequest).stream.session?.socket?.remoteAddress ?? '';
}

/**
 * An HTTP/1.1 instance's response fields for an HTTP/2 client: as for HTTP/1.1 (hop-by-hop removed),
 * and no Transfer-Encoding at all (HTTP/2 frames the body itself; node refuses the field), names in
 * lowercase as HTTP/2 requires.
 */
export function h2DownstreamHeaders(raw: Buffer[], bodyless: boolean): string[] {
  const h = downstreamHeaders(raw, bodyless);
  const out: string[] = [];
  for (let i = 0; i < h.length; i += 2) {
    const name = h[i]!.toLowerCase();
    if (name === 'transfer-encoding') continue;
    out.push(name, h[i + 1]!);
  }
  return out;
}
