import type { IncomingMessage, OutgoingHttpHeaders } from 'node:http';

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

/** Extra hop-by-hop names listed in a `Connection` header, or undefined when there are none. */
function connectionListed(value: string | undefined): Set<string> | undefined {
  if (value === undefined) return undefined;
  let set: Set<string> | undefined;
  for (const part of value.split(',')) {
    const name = part.trim().toLowerCase();
    if (name === '' || name === 'close' || name === 'keep-alive' || name === 'upgrade') continue;
    set ??= new Set();
    set.add(name);
  }
  return set;
}

/** Request headers for the upstream request: hop-by-hop removed, `X-Forwarded-*` set. */
export function upstreamHeaders(req: IncomingMessage): OutgoingHttpHeaders {
  const src = req.headers;
  const listed = connectionListed(src.connection);
  const out: OutgoingHttpHeaders = {};
  for (const name in src) {
    if (HOP_BY_HOP.has(name) || listed?.has(name)) continue;
    out[name] = src[name];
  }
  const client = req.socket.remoteAddress ?? '';
  const prior = src['x-forwarded-for'];
  out['x-forwarded-for'] = prior ? `${prior}, ${client}` : client;
  out['x-forwarded-proto'] = 'http';
  if (src.host !== undefined) out['x-forwarded-host'] = src.host;
  return out;
}

/** Response headers as a flat `[name, value, …]` list (keeps repeated `Set-Cookie`), hop-by-hop removed. */
export function downstreamHeaders(raw: string[], connection: string | undefined): string[] {
  const listed = connectionListed(connection);
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
