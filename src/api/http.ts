import type { IncomingMessage, ServerResponse } from 'node:http';
import { BatonError } from '../core/errors.js';

const STATUS: Record<string, number> = {
  SPEC_INVALID: 400,
  BAD_INPUT: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  RATE_LIMITED: 429,
  NOT_FOUND: 404,
  LOCK_HELD: 409,
  CONFLICT: 409,
  UNAVAILABLE: 503,
};

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

export function sendError(res: ServerResponse, err: unknown): void {
  const e =
    err instanceof BatonError
      ? err
      : new BatonError('DRIVER', err instanceof Error ? err.message : String(err), { cause: err });
  if (res.headersSent) {
    // Mid-stream: the stream's own result line carries failures; end what we can.
    res.end();
    return;
  }
  sendJson(res, STATUS[e.code] ?? 500, { error: e.toJSON() });
}

const MAX_BODY = 4 * 1024 * 1024;

export async function readJson<T>(req: IncomingMessage): Promise<T> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > MAX_BODY) throw new BatonError('BAD_INPUT', 'request body too large', { exitCode: 2 });
    chunks.push(c as Buffer);
  }
  if (size === 0) return {} as T;
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as T;
  } catch (err) {
    throw new BatonError('BAD_INPUT', 'request body is not valid JSON', { exitCode: 2, cause: err });
  }
}

/**
 * An NDJSON stream whose head is written with the first line, so an error before any progress
 * (a held lock, an unknown service) can still be answered with its own status code.
 */
export function ndjson(res: ServerResponse): { write: (value: unknown) => void; readonly started: boolean } {
  let started = false;
  return {
    write(value) {
      if (!started) {
        res.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store' });
        started = true;
      }
      if (!res.writableEnded && !res.destroyed) res.write(`${JSON.stringify(value)}\n`);
    },
    get started() {
      return started;
    },
  };
}
