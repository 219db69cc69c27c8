import { type Clock, realClock } from './clock.js';

/**
 * The one retry layer of the cloud drivers (the SDKs' own retries are turned off where the clients are
 * built, see `oci/clients.ts`): exponential backoff with full jitter, a server's `Retry-After` honoured as
 * a lower bound, bounded by attempts and by a deadline. Shared by the OCI drivers and, later, AWS.
 */
export interface RetryPolicy {
  /** Attempts in all, the first included. */
  maxAttempts: number;
  /** Backoff before retry n (0-based) is uniform in [0, min(maxDelayMs, baseDelayMs · 2^n)]. */
  baseDelayMs: number;
  maxDelayMs: number;
  /** No retry starts once this much time has passed since the first attempt (or would pass while waiting). */
  deadlineMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = {
  maxAttempts: 8,
  baseDelayMs: 250,
  maxDelayMs: 20_000,
  deadlineMs: 120_000,
};

/** What one attempt ended with. */
export type Outcome<T> = { ok: true; value: T } | { ok: false; error: unknown };

/** Whether to try again, and the server's wish for the wait (`Retry-After`), if it said one. */
export interface Verdict {
  retry: boolean;
  retryAfterMs?: number | undefined;
  reason?: string | undefined;
}

export interface RetryOptions<T> {
  policy?: RetryPolicy | undefined;
  classify: (outcome: Outcome<T>) => Verdict;
  clock?: Clock | undefined;
  /** Uniform in [0, 1); injected for property tests. */
  random?: (() => number) | undefined;
  onRetry?: ((info: { attempt: number; delayMs: number; reason: string | undefined }) => void) | undefined;
}

/** Full jitter (AWS architecture blog, "Exponential Backoff And Jitter"): spreads retrying clients apart. */
export function backoffMs(retry: number, policy: RetryPolicy, random: () => number): number {
  const cap = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** retry);
  return Math.floor(random() * cap);
}

/** The wait before retry n: the jittered backoff, but never less than what the server asked for. */
export function delayMs(
  retry: number,
  retryAfterMs: number | undefined,
  policy: RetryPolicy,
  random: () => number,
): number {
  return Math.max(retryAfterMs ?? 0, backoffMs(retry, policy, random));
}

/** `Retry-After` as milliseconds: delay-seconds or an HTTP date (RFC 9110 §10.2.3). */
export function parseRetryAfter(
  value: string | null | undefined,
  now: number = Date.now(),
): number | undefined {
  if (!value) return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** 429 and 5xx are worth another try; 501 (not implemented) is not. */
export function isRetryableStatus(status: number): boolean {
  return status === 429 || (status >= 500 && status !== 501);
}

/**
 * Runs `op` until `classify` says the outcome is final, attempts run out, or the deadline would pass.
 * The last outcome is returned (a value) or thrown (an error) as it was: a final 503 answer stays an
 * answer for the caller to translate.
 */
export async function retry<T>(op: (attempt: number) => Promise<T>, opts: RetryOptions<T>): Promise<T> {
  const policy = opts.policy ?? DEFAULT_RETRY;
  const clock = opts.clock ?? realClock;
  const random = opts.random ?? Math.random;
  const started = clock.now();
  for (let attempt = 0; ; attempt++) {
    let outcome: Outcome<T>;
    try {
      outcome = { ok: true, value: await op(attempt) };
    } catch (error) {
      outcome = { ok: false, error };
    }
    const verdict = opts.classify(outcome);
    const wait = delayMs(attempt, verdict.retryAfterMs, policy, random);
    const last =
      !verdict.retry || attempt + 1 >= policy.maxAttempts || clock.now() + wait - started > policy.deadlineMs;
    if (last) {
      if (outcome.ok) return outcome.value;
      throw outcome.error;
    }
    opts.onRetry?.({ attempt: attempt + 1, delayMs: wait, reason: verdict.reason });
    await clock.sleep(wait);
  }
}
