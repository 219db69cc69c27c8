/**
 * Wald's sequential probability ratio test on Bernoulli outcomes (H0: p = p0 vs H1: p = p1, p1 > p0).
 * The log-likelihood ratio of k successes in n trials is compared with two bounds after every look:
 * at or above `upper` accept H1, at or below `lower` accept H0, in between keep sampling.
 */

export interface SprtBounds {
  /** ln((1 − β) / α): crossing it accepts H1 with false-alarm probability ≤ α. */
  upper: number;
  /** ln(β / (1 − α)): crossing it accepts H0 with miss probability ≤ β. */
  lower: number;
}

export type SprtState = 'h0' | 'h1' | 'continue';

export function sprtBounds(alpha: number, beta: number): SprtBounds {
  return { upper: Math.log((1 - beta) / alpha), lower: Math.log(beta / (1 - alpha)) };
}

/** Log-likelihood ratio ln(L(p1) / L(p0)) of k "bad" outcomes among n. */
export function bernoulliLlr(n: number, k: number, p0: number, p1: number): number {
  return k * Math.log(p1 / p0) + (n - k) * Math.log((1 - p1) / (1 - p0));
}

/** Expected LLR added by one outcome when the true rate is p (negative: drifts towards H0). */
export function bernoulliDrift(p: number, p0: number, p1: number): number {
  return bernoulliLlr(1, p, p0, p1);
}

export function sprtState(llr: number, bounds: SprtBounds): SprtState {
  if (llr >= bounds.upper) return 'h1';
  if (llr <= bounds.lower) return 'h0';
  return 'continue';
}

/**
 * Rough total sample size at which the test should reach a bound if outcomes keep arriving at rate p:
 * n + distance to the bound the drift points at / |drift|. Infinity when the drift is ~0.
 */
export function expectedSampleSize(
  n: number,
  llr: number,
  p: number,
  p0: number,
  p1: number,
  bounds: SprtBounds,
): number {
  const drift = bernoulliDrift(p, p0, p1);
  if (Math.abs(drift) < 1e-9) return Number.POSITIVE_INFINITY;
  const distance = drift > 0 ? bounds.upper - llr : llr - bounds.lower;
  return n + Math.max(0, distance) / Math.abs(drift);
}
