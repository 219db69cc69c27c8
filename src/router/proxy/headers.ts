import type { IncomingMessage } from 'node:http';

/** Hop-by-hop headers (RFC 9110 §7.6.1) plus `expect`, which the proxy already answered. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'expect',
]);

/**
 * Names a `Connection` header cannot make hop-by-hop: they frame or address the message, and dropping
 * them would drop a body or change where it goes.
 */
const END_TO_END = new Set(['', 'close', 'keep-alive', 'upgrade', 'host', 'content-length']);

/** Adds the hop-by-hop names a `Connection` header lists (besides close, keep-alive, upgrade) to `set`. */
function connectionListed(value: string, set: Set<string> | undefined): Set<string> | undefined {
  for (const part of value.split(',')) {
    const name = part.trim().toLowerCase();
    if (END_TO_END.has(name)) continue;
    set ??= new Set();
    set.add(name);
  }
  return set;
}

/** Names listed by the `Connection` headers of a raw `[name, value, …]` list; undefined when none. */
function listedIn(raw: string[]): Set<string> | undefined {
  let set: Set<string> | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.length === 10 && name.toLowerCase() === 'connection') set = connectionListed(raw[i + 1]!, set);
  }
  return set;
}

/**
 * The upstream request's headers, pushed onto `out` as a flat `[name, value, …]` list (which
 * `http.request` writes in one pass, without a header object): hop-by-hop removed, `X-Forwarded-*` set
 * (the client's `X-Forwarded-For` extended, its `-Proto` and `-Host` replaced). Returns whether the
 * request has a body (a Transfer-Encoding, or a Content-Length other than 0).
 */
export function upstreamHeaders(req: IncomingMessage, out: string[]): boolean {
  const raw = req.rawHeaders;
  const listed = listedIn(raw);
  let prior: string | undefined;
  let host: string | undefined;
  let hasBody = false;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const value = raw[i + 1]!;
    const lower = name.toLowerCase();
    if (HOP_BY_HOP.has(lower)) {
      if (lower === 'transfer-encoding') hasBody = true;
      continue;
    }
    if (listed?.has(lower)) continue;
    switch (lower) {
      case 'x-forwarded-for':
        prior = prior === undefined ? value : `${prior}, ${value}`;
        continue;
      case 'x-forwarded-proto':
      case 'x-forwarded-host':
        continue;
      case 'content-length':
        if (value !== '0') hasBody = true;
        break;
      case 'host':
        host ??= value;
        break;
    }
    out.push(name, value);
  }
  const client = req.socket.remoteAddress ?? '';
  // A TLS listener's sockets are TLSSockets (`encrypted`): the client spoke https to the proxy.
  const proto = (req.socket as { encrypted?: boolean }).encrypted === true ? 'https' : 'http';
  pushForwarded(out, prior, client, proto, host);
  return hasBody;
}

/**
 * Appends the X-Forwarded-* fields (lowercase, as HTTP/2 requires and HTTP/1.1 allows): the client's
 * address after those the request listed (`prior`), the scheme it spoke to the proxy, the host it asked.
 * The request's own X-Forwarded-Proto and -Host were dropped: a client could claim anything there.
 */
export function pushForwarded(
  out: string[],
  prior: string | undefined,
  client: string,
  proto: 'http' | 'https',
  host: string | undefined,
): void {
  out.push('x-forwarded-for', prior ? `${prior}, ${client}` : client, 'x-forwarded-proto', proto);
  if (host !== undefined) out.push('x-forwarded-host', host);
}

/** A transfer coding applied before chunked (node frames the body in chunks again). */
const CODED_CHUNKED = /\S\s*,\s*chunked\s*$/i;

/**
 * Response headers (undici's raw `[name, value, …]` buffers) as strings, hop-by-hop removed, repeated
 * `Set-Cookie` kept (`bodyless`: a 204 or 304, sent on without a length). A transfer coding besides chunked (`gzip, chunked`) is kept: the body is still coded.
 */
export function downstreamHeaders(raw: Buffer[], bodyless = false): string[] {
  const out: string[] = [];
  let listed: Set<string> | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toString('latin1');
    if (name.length === 10 && name.toLowerCase() === 'connection')
      listed = connectionListed(raw[i + 1]!.toString('latin1'), listed);
  }
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toString('latin1');
    const lower = name.toLowerCase();
    const value = raw[i + 1]!.toString('latin1');
    if (HOP_BY_HOP.has(lower) || listed?.has(lower)) {
      if (lower === 'transfer-encoding' && !bodyless && CODED_CHUNKED.test(value)) out.push(name, value);
      continue;
    }
    // A 204 or 304 has no body whatever its length said; clients may take a length for one.
    if (bodyless && lower === 'content-length') continue;
    out.push(name, value);
  }
  return out;
}
