import type { BackendEntry } from './backend.js';
import type { RevisionCounters } from './histogram.js';
import { type DataPlane, release } from './plane.js';
import type { ServiceTable } from './service.js';
import { PREVIEW } from './split.js';

/** Errors that can only happen while connecting: nothing reached the backend. */
export const CONNECT_FAILURES = new Set([
  'ECONNREFUSED',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EADDRNOTAVAIL',
  'ETIMEDOUT',
  'UND_ERR_CONNECT_TIMEOUT',
]);
/** First try plus retries, whatever their reason (HTTP/1.1 and h2c upstreams alike). */
export const MAX_ATTEMPTS = 4;

export interface FailedAttempt {
  now: number;
  /** The connection failed: nothing of the request reached the backend. */
  refused: boolean;
  /** The revision's counters (none for a preview request). */
  counters: RevisionCounters | undefined;
}

/**
 * The bookkeeping of an attempt that failed before any of its answer went to the client: the backend is
 * released, the failure counted, and a backend that refused the connection is left out of rotation for
 * a moment (passive health).
 */
export function attemptFailed(
  plane: DataPlane,
  table: ServiceTable,
  target: number,
  b: BackendEntry,
  startedAt: number,
  code: string,
): FailedAttempt {
  const now = performance.now();
  release(plane, b, false);
  const counters = target === PREVIEW ? undefined : table.counters(b.revision);
  counters?.observe(now - startedAt, true);
  const refused = CONNECT_FAILURES.has(code);
  if (refused) {
    b.passiveUntil = now + plane.passiveUnhealthyMs;
    if (counters) counters.connectErrors++;
  }
  return { now, refused, counters };
}

/**
 * Another backend for the request, none of those it tried (`tried` gets `failed`), or undefined. The
 * caller decided the request may go again.
 */
export function retryOn(
  table: ServiceTable,
  target: number,
  tried: BackendEntry[],
  failed: BackendEntry,
  a: FailedAttempt,
): BackendEntry | undefined {
  tried.push(failed);
  const next = table.pickFor(target, a.now, tried);
  if (next !== undefined && a.counters) a.counters.retries++;
  return next;
}
