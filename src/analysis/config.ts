/**
 * Settings of the canary judge (`strategy.analysis` in baton.yaml). Plain numbers so the spec schema can
 * validate them and the docs can print them; `ANALYSIS_DEFAULTS` is the one place defaults live.
 */
export interface AnalysisConfig {
  /** Canary requests in the window before the judge may promote (default 100). */
  minRequests: number;
  /**
   * Canary requests in the window before the judge may abort (default 10). Keeps a handful of early
   * failures from aborting, and bounds what a canary that fails everything costs.
   */
  minAbortRequests: number;
  /** Stable requests in the window before its latency p99 is trusted as the baseline (default 200). */
  minStableRequests: number;
  /** Probability of aborting a canary as good as stable (false abort), 0–0.5 (default 0.01). */
  alpha: number;
  /** Probability of promoting a canary at the bad error rate or worse (missed abort), 0–0.5 (default 0.01). */
  beta: number;
  /** Lowest baseline error rate assumed for stable, even when it has no errors (default 0.005). */
  errorRateFloor: number;
  /**
   * Absolute error-rate increase over stable that counts as bad (default 0.02): the test tells the
   * baseline p0 from p1 = max(p0 + this, p0 × maxErrorRateRatio).
   */
  maxErrorRateIncrease: number;
  /** Relative error-rate increase over stable that counts as bad (default 2.5, see maxErrorRateIncrease). */
  maxErrorRateRatio: number;
  /**
   * Smoothing of the stable error rate: this many pseudo-requests at `errorRateFloor` are added to the
   * stable window, so a short stable window does not swing the baseline (default 50).
   */
  baselinePriorRequests: number;
  /**
   * Margin, in standard errors, on what the stable window says (default 1): added to its error rate,
   * and used to raise its latency quantile bound, so a stable window that happens to look better than
   * stable is does not make a good canary look bad.
   */
  baselineSigmas: number;
  /**
   * Quantile of the stable latency used as the "slow" threshold (default 0.99). A canary like stable
   * has at most 1 − this of its requests above it.
   */
  latencyQuantile: number;
  /** Fraction of canary requests above the stable threshold that counts as bad (default 0.05). */
  maxSlowFraction: number;
}

export const ANALYSIS_DEFAULTS: Readonly<AnalysisConfig> = Object.freeze({
  minRequests: 100,
  minAbortRequests: 10,
  minStableRequests: 200,
  alpha: 0.01,
  beta: 0.01,
  errorRateFloor: 0.005,
  maxErrorRateIncrease: 0.02,
  maxErrorRateRatio: 2.5,
  baselinePriorRequests: 50,
  baselineSigmas: 1,
  latencyQuantile: 0.99,
  maxSlowFraction: 0.05,
});

/** Defaults overridden by the fields given (undefined fields keep their default). */
export function analysisConfig(overrides: Partial<AnalysisConfig> = {}): AnalysisConfig {
  const out: AnalysisConfig = { ...ANALYSIS_DEFAULTS };
  for (const [k, v] of Object.entries(overrides) as Array<[keyof AnalysisConfig, number | undefined]>) {
    if (v !== undefined) out[k] = v;
  }
  return out;
}
