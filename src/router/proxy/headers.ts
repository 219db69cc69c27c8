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

/** Adds the hop-by-hop names a `Connection` header lists (besides close, keep-alive, upgrade) to `set`. */
function connectionListed(value: string, set: Set<string> | undefined): Set<string> | undefined {
  for (const part of value.split(',')) {
    const name = part.trim().toLowerCase();
    if (name === '' || name === 'close' || name === 'keep-alive' || name === 'upgrade') continue;
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
  out.push('X-Forwarded-For', prior ? `${prior}, ${client}` : client, 'X-Forwarded-Proto', 'http');
  if (host !== undefined) out.push('X-Forwarded-Host', host);
  return hasBody;
}

/** Response headers as a flat `[name, value, …]` list (keeps repeated `Set-Cookie`), hop-by-hop removed. */
export function downstreamHeaders(raw: string[]): string[] {
  const listed = listedIn(raw);
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const lower = name.toLowerCase();
    if (HOP_BY_HOP.has(lower) || listed?.has(lower)) continue;
    out.push(name, raw[i + 1]!);
  }
  return out;
}

/** The request head of a WebSocket upgrade, as sent to the backend (Connection/Upgrade kept). */
export function upgradeHead(req: IncomingMessage): string {
  const raw = req.rawHeaders;
  let head = `${req.method} ${req.url} HTTP/1.1\r\n`;
  let prior = '';
  for (let i = 0; i < raw.length; i += 2) {
    const lower = raw[i]!.toLowerCase();
    if (lower === 'x-forwarded-for') {
      prior = prior ? `${prior}, ${raw[i + 1]}` : raw[i + 1]!;
      continue;
    }
    if (lower === 'x-forwarded-proto' || lower === 'x-forwarded-host' || lower === 'proxy-authorization') {
      continue;
    }
    head += `${raw[i]}: ${raw[i + 1]}\r\n`;
  }
  const client = req.socket.remoteAddress ?? '';
  head += `X-Forwarded-For: ${prior ? `${prior}, ${client}` : client}\r\nX-Forwarded-Proto: http\r\n`;
  if (req.headers.host !== undefined) head += `X-Forwarded-Host: ${req.headers.host}\r\n`;
  return `${head}\r\n`;
}
