/**
 * When to renew and when to retry: pure functions of the certificate's dates, the attempt count, the
 * CA's Retry-After and a random number, so the policy is tested without clocks.
 */

/** Jitter spreads renewals of certificates issued together over 1/20 of their lifetime, all early. */
const JITTER_SHARE = 1 / 20;

/** Renewal is due at two thirds of the lifetime, minus up to 1/20 of it (random in [0, 1)). */
export function renewAt(notBefore: number, notAfter: number, random: number, fraction = 2 / 3): number {
  const life = Math.max(0, notAfter - notBefore);
  return notBefore + life * fraction - life * JITTER_SHARE * random;
}

export interface BackoffPolicy {
  baseMs: number;
  maxMs: number;
}

/** Let's Encrypt's advice for clients: back off from a minute up to hours, never a tight loop. */
export const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 60_000, maxMs: 6 * 3600_000 };

/**
 * Delay before retry number `attempt` (1 = first retry): exponential with half-jitter, capped, and never
 * shorter than what the CA asked for with Retry-After.
 */
export function retryDelay(
  attempt: number,
  retryAfterSec: number | undefined,
  random: number,
  policy: BackoffPolicy = DEFAULT_BACKOFF,
): number {
  const exp = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.max(0, attempt - 1));
  const jittered = exp / 2 + (exp / 2) * random;
  return Math.max(jittered, (retryAfterSec ?? 0) * 1000);
}
