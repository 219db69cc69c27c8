import type { AnalysisConfig } from './config.js';
import { p99FromHistogram } from './histogram.js';
import { type SprtBounds, sprtBounds } from './sprt.js';
import { errorTest, latencyTest, type TestResult } from './tests.js';
import type { WindowStats } from './window.js';

export type Decision = 'promote' | 'wait' | 'abort';

/** Why the judge decided: one stable code per outcome, for the engine, the API and tests. */
export type VerdictCode =
  | 'healthy'
  | 'error-rate'
  | 'latency'
  | 'canary-traffic'
  | 'stable-traffic'
  | 'undecided';

export interface RevisionFigures {
  requests: number;
  errors: number;
  /** errors / requests (0 without requests). */
  errorRate: number;
  /** Upper bound of the bucket holding p99; null without requests or beyond the last bound. */
  p99Ms: number | null;
}

export interface Verdict {
  decision: Decision;
  code: VerdictCode;
  /** One line for the user, with the figures behind it. */
  reason: string;
  figures: {
    canary: RevisionFigures & { slow: number };
    stable: RevisionFigures;
    /** Log-likelihood ratios: abort at or above `bounds.upper`, promotable at or below `bounds.lower`. */
    llrErrors: number;
    llrLatency: number;
    bounds: SprtBounds;
    /** Error rates the error test tells apart (as good as stable vs clearly worse). */
    errorRates: { p0: number; p1: number };
    /** Stable latency quantile bound a canary request is "slow" above; null until stable has enough requests. */
    latencyThresholdMs: number | null;
    /** Estimated canary requests needed to decide (null when the rate seen gives no estimate). */
    neededRequests: number | null;
  };
}

export interface JudgeInput {
  stable: WindowStats;
  canary: WindowStats;
  config: AnalysisConfig;
}

const pct = (x: number) => `${(x * 100).toFixed(x > 0 && x < 0.001 ? 3 : x < 0.1 ? 2 : 1)}%`;
const num = (x: number) => x.toFixed(2);

function revisionFigures(w: WindowStats): RevisionFigures {
  const p99 = p99FromHistogram(w.latency);
  return {
    requests: w.requests,
    errors: w.errors,
    errorRate: w.requests > 0 ? w.errors / w.requests : 0,
    p99Ms: p99 === undefined || !Number.isFinite(p99) ? null : p99,
  };
}

/**
 * Compares the canary with stable over the same window. Pure. Both sequential tests (error rate,
 * latency) must accept "as good as stable" and the canary must have `minRequests` to promote; either
 * test accepting "worse" aborts once the canary has `minAbortRequests`; anything else waits.
 */
export function judge(input: JudgeInput): Verdict {
  const { stable, canary, config } = input;
  const bounds = sprtBounds(config.alpha, config.beta);
  const err = errorTest(stable, canary, config, bounds);
  const lat = latencyTest(stable, canary, config, bounds);
  const n = canary.requests;
  const needed = neededRequests(err, lat, config);
  const c = revisionFigures(canary);
  const s = revisionFigures(stable);
  const figures: Verdict['figures'] = {
    canary: { ...c, slow: lat.k },
    stable: s,
    llrErrors: err.llr,
    llrLatency: lat.llr,
    bounds,
    errorRates: { p0: err.p0, p1: err.p1 },
    latencyThresholdMs: lat.thresholdMs === undefined ? null : lat.thresholdMs,
    neededRequests: Number.isFinite(needed) ? Math.ceil(needed) : null,
  };
  const verdict = (decision: Decision, code: VerdictCode, reason: string): Verdict => ({
    decision,
    code,
    reason,
    figures,
  });
  const rates =
    `canary errors ${pct(c.errorRate)} (${c.errors}/${c.requests}) vs stable ${pct(s.errorRate)} ` +
    `(${s.errors}/${s.requests})`;
  const slowText = () =>
    `${lat.k} of ${lat.n} canary requests (${pct(lat.n > 0 ? lat.k / lat.n : 0)}) slower than stable ` +
    `p${num(config.latencyQuantile * 100).replace(/\.00$/, '')} bound (${lat.thresholdMs} ms)`;

  if (n >= config.minAbortRequests && (err.state === 'h1' || lat.state === 'h1')) {
    const parts: string[] = [];
    if (err.state === 'h1') {
      parts.push(`${rates}: LLR ${num(err.llr)} ≥ ${num(bounds.upper)} (bad rate ${pct(err.p1)})`);
    }
    if (lat.state === 'h1') {
      parts.push(`${slowText()}: LLR ${num(lat.llr)} ≥ ${num(bounds.upper)} (bad fraction ${pct(lat.p1)})`);
    }
    return verdict(
      'abort',
      err.state === 'h1' ? 'error-rate' : 'latency',
      `canary is worse: ${parts.join('; ')}`,
    );
  }
  const latencyOk = lat.state === 'h0' || lat.state === 'not-measured';
  if (n >= config.minRequests && err.state === 'h0' && latencyOk) {
    const latency =
      lat.state === 'not-measured'
        ? `latency not measured by this router; LLR errors ${num(err.llr)} ≤ ${num(bounds.lower)}`
        : `p99 ${c.p99Ms ?? '-'} ms vs ${s.p99Ms ?? '-'} ms (LLR errors ${num(err.llr)}, latency ${num(lat.llr)} ≤ ${num(bounds.lower)})`;
    return verdict('promote', 'healthy', `canary is as good as stable: ${rates}; ${latency}`);
  }
  const need = figures.neededRequests === null ? 'more' : `~${figures.neededRequests}`;
  if (n < config.minRequests || (n < config.minAbortRequests && (err.state === 'h1' || lat.state === 'h1'))) {
    return verdict(
      'wait',
      'canary-traffic',
      `not enough traffic: ${n} canary requests (${c.errors} errors), need ${need} to decide`,
    );
  }
  if (lat.state === 'no-baseline') {
    return verdict(
      'wait',
      'stable-traffic',
      `not enough stable traffic for a latency baseline: ${stable.requests} stable requests, ` +
        `need ${config.minStableRequests}`,
    );
  }
  const open: string[] = [];
  if (err.state !== 'h0') open.push(`${rates} (LLR ${num(err.llr)})`);
  if (!latencyOk) open.push(`${slowText()} (LLR ${num(lat.llr)})`);
  return verdict(
    'wait',
    'undecided',
    `not enough evidence yet: ${open.join('; ')}; bounds ${num(bounds.lower)}/${num(bounds.upper)}; ` +
      `need ${need} canary requests to decide`,
  );
}

/** Canary requests the undecided tests still need (at least minRequests). */
function neededRequests(err: TestResult, lat: TestResult, config: AnalysisConfig): number {
  if (err.state === 'h1' || lat.state === 'h1') return config.minAbortRequests;
  let needed = config.minRequests;
  for (const t of [err, lat]) if (t.state === 'continue') needed = Math.max(needed, t.needed);
  return needed;
}
