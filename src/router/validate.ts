import { InputError } from '../core/errors.js';
import type { RevisionSplit, RouteMode } from './router.js';

/** Header and cookie that force a request to a revision (`canary`, `stable` or a number). */
export const FORCE_HEADER = 'x-baton-revision';
export const FORCE_COOKIE = 'baton-revision';
/** Name of the cookie that keeps a client on its revision while a sticky split lasts. */
export const stickyCookieName = (service: string): string => `baton-sticky-${service}`;
/** `Retry-After` (seconds) of maintenance answers. */
export const MAINTENANCE_RETRY_AFTER_S = 30;
/**
 * Upper bound of `hold.maxMs`: node's HTTP server gives a client 300 s to send a whole request
 * (`requestTimeout`), and a held request's body waits unread.
 */
export const HOLD_MAX_MS_LIMIT = 300_000;
const MAX_BODY_BYTES = 64 * 1024;

export const defaultMaintenanceBody = (service: string): string => `${service} is down for maintenance\n`;

const isRevision = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0;

/**
 * Checks a split (from the admin API or a caller) and returns a clean copy; null means no split.
 * Percents are integers 0–100 summing to 100, each revision listed once.
 */
export function parseSplit(v: unknown): RevisionSplit | null {
  if (v === null) return null;
  if (typeof v !== 'object' || v === undefined || Array.isArray(v))
    throw new InputError('split must be an object {weights, canary?, stable?, sticky} or null');
  const o = v as Record<string, unknown>;
  if (!Array.isArray(o.weights) || o.weights.length === 0)
    throw new InputError('split.weights must list at least one {revision, percent}');
  const seen = new Set<number>();
  let sum = 0;
  const weights = o.weights.map((w: unknown, i) => {
    const e = (w ?? {}) as Record<string, unknown>;
    if (!isRevision(e.revision))
      throw new InputError(`split.weights[${i}].revision must be a revision number (an integer >= 0)`);
    const p = e.percent;
    if (typeof p !== 'number' || !Number.isInteger(p) || p < 0 || p > 100)
      throw new InputError(
        `split.weights[${i}].percent must be an integer from 0 to 100 (got ${JSON.stringify(p)})`,
      );
    if (seen.has(e.revision)) throw new InputError(`split.weights lists revision ${e.revision} twice`);
    seen.add(e.revision);
    sum += p;
    return { revision: e.revision, percent: p };
  });
  if (sum !== 100) throw new InputError(`split.weights percents sum to ${sum}, not 100`);
  if (o.sticky !== undefined && typeof o.sticky !== 'boolean')
    throw new InputError('split.sticky must be true or false');
  const split: RevisionSplit = { weights, sticky: o.sticky === true };
  for (const name of ['canary', 'stable'] as const) {
    const r = o[name];
    if (r === undefined || r === null) continue;
    if (!isRevision(r)) throw new InputError(`split.${name} must be a revision number (an integer >= 0)`);
    split[name] = r;
  }
  return split;
}

/** Checks a preview revision: an integer >= 0, or null for none. */
export function parsePreviewRevision(v: unknown): number | null {
  if (v === null) return null;
  if (!isRevision(v))
    throw new InputError('preview revision must be a revision number (an integer >= 0) or null');
  return v;
}

/** Checks a route mode and returns a clean copy. */
export function parseMode(v: unknown): RouteMode {
  const o = (typeof v === 'object' && v !== null ? v : {}) as Record<string, unknown>;
  switch (o.kind) {
    case 'serve':
      return { kind: 'serve' };
    case 'maintenance': {
      if (o.body === undefined || o.body === null) return { kind: 'maintenance' };
      if (typeof o.body !== 'string' || Buffer.byteLength(o.body) > MAX_BODY_BYTES)
        throw new InputError(`mode.body must be a string of at most ${MAX_BODY_BYTES} bytes`);
      return { kind: 'maintenance', body: o.body };
    }
    case 'hold': {
      const ms = o.maxMs;
      if (typeof ms !== 'number' || !Number.isInteger(ms) || ms < 1 || ms > HOLD_MAX_MS_LIMIT)
        throw new InputError(`mode.maxMs must be an integer from 1 to ${HOLD_MAX_MS_LIMIT} (ms)`);
      return { kind: 'hold', maxMs: ms };
    }
    default:
      throw new InputError('mode.kind must be serve, maintenance or hold');
  }
}

/** Checks the preview address of a route against its listen address. */
export function checkPreviewAddress(
  listen: string,
  preview: string | undefined,
  ok: (a: string) => boolean,
): void {
  if (preview === undefined) return;
  if (!ok(preview)) throw new InputError(`preview address "${preview}" is not host:port`);
  if (preview === listen) throw new InputError(`preview address ${preview} must differ from listen address`);
}
