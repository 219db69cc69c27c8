import type { AnalysisConfig } from './config.js';
import { confidentQuantileBound, countAbove, histogramTotal } from './histogram.js';
import { bernoulliLlr, expectedSampleSize, type SprtBounds, type SprtState, sprtState } from './sprt.js';
import type { WindowStats } from './window.js';

/** One sequential test of the canary against stable: its hypotheses, evidence and state. */
export interface TestResult {
  /**
   * 'no-baseline': stable has too few requests for the test to mean anything yet. 'not-measured': the
   * router keeps no latency histogram (HAProxy's runtime API has none): the test cannot speak either way.
   */
  state: SprtState | 'no-baseline' | 'not-measured';
  llr: number;
  /** Rate of "bad" canary outcomes under H0 (as good as stable) and H1 (clearly worse). */
  p0: number;
  p1: number;
  /** Canary outcomes looked at and the bad ones among them. */
  n: number;
  k: number;
  /** Estimated canary outcomes needed to reach a bound at the rate seen so far. */
  needed: number;
}

/** Shrinks a small sample's rate towards `prior` (as if `weight` outcomes at that rate were added). */
function shrink(k: number, n: number, prior: number, weight: number): number {
  return (k + prior * weight) / (n + weight);
}

function run(n: number, k: number, p0: number, p1: number, bounds: SprtBounds): TestResult {
  const llr = bernoulliLlr(n, k, p0, p1);
  const needed = expectedSampleSize(n, llr, shrink(k, n, p0, 10), p0, p1, bounds);
  return { state: sprtState(llr, bounds), llr, p0, p1, n, k, needed };
}

/**
 * Error-rate hypotheses from the stable window: p0 is stable's smoothed error rate plus
 * `baselineSigmas` standard errors (at least the floor), p1 the rate that counts as bad. The margin
 * keeps a stable window that happens to look better than stable really is from aborting a good canary.
 */
export function errorHypotheses(stable: WindowStats, config: AnalysisConfig): { p0: number; p1: number } {
  const weight = Math.max(0, stable.requests) + config.baselinePriorRequests;
  const smoothed = shrink(
    stable.errors,
    stable.requests,
    config.errorRateFloor,
    config.baselinePriorRequests,
  );
  const margin = config.baselineSigmas * Math.sqrt((smoothed * (1 - smoothed)) / Math.max(1, weight));
  const p0 = Math.min(0.9, Math.max(config.errorRateFloor, smoothed + margin));
  const p1 = Math.min(0.99, Math.max(p0 + config.maxErrorRateIncrease, p0 * config.maxErrorRateRatio));
  return { p0, p1 };
}

/** SPRT on the canary's error outcomes (a request is bad when it errs). */
export function errorTest(
  stable: WindowStats,
  canary: WindowStats,
  config: AnalysisConfig,
  bounds: SprtBounds,
): TestResult {
  const { p0, p1 } = errorHypotheses(stable, config);
  const n = Math.max(0, canary.requests);
  return run(n, Math.min(n, Math.max(0, canary.errors)), p0, p1, bounds);
}

/**
 * SPRT on the canary's latency outcomes (a request is bad when slower than the stable quantile's
 * bucket bound, raised by `baselineSigmas` standard errors while the stable window is short). Waits
 * for `minStableRequests` stable requests so the threshold means something.
 */
export function latencyTest(
  stable: WindowStats,
  canary: WindowStats,
  config: AnalysisConfig,
  bounds: SprtBounds,
): TestResult & { thresholdMs: number | undefined } {
  const p0 = 1 - config.latencyQuantile;
  const p1 = Math.max(config.maxSlowFraction, p0 + 1e-6);
  const n = histogramTotal(canary.latency);
  if (stable.latency.bounds.length === 0 && canary.latency.bounds.length === 0)
    return { state: 'not-measured', llr: 0, p0, p1, n: 0, k: 0, needed: 0, thresholdMs: undefined };
  if (histogramTotal(stable.latency) < config.minStableRequests) {
    return {
      state: 'no-baseline',
      llr: 0,
      p0,
      p1,
      n,
      k: 0,
      needed: Number.POSITIVE_INFINITY,
      thresholdMs: undefined,
    };
  }
  const thresholdMs = confidentQuantileBound(stable.latency, config.latencyQuantile, config.baselineSigmas);
  const k = countAbove(canary.latency, thresholdMs);
  return { ...run(n, k, p0, p1, bounds), thresholdMs };
}
