import { LATENCY_BOUNDS_MS } from '../router/proxy/histogram.js';
import type { RevisionStats } from '../router/router.js';
import { ANALYSIS_DEFAULTS, type AnalysisConfig } from './config.js';
import { type Decision, judge, type Verdict } from './judge.js';
import { Prng } from './prng.js';
import { windowDelta } from './window.js';

/** The embedded proxy's buckets. */
const SIM_LATENCY_BOUNDS_MS = LATENCY_BOUNDS_MS;

/** How one simulated revision answers: error probability and a log-normal latency. */
export interface RevisionProfile {
  errorRate: number;
  latency: { medianMs: number; sigma: number };
}

export interface SimulationInput {
  seed: number;
  /** Requests per second reaching the service (both revisions), a Poisson process. */
  rate: number;
  /** Share of requests the canary receives, 0–1. */
  canaryWeight: number;
  stable: RevisionProfile;
  canary: RevisionProfile;
  config?: AnalysisConfig;
  /** Simulated seconds between two looks of the judge (default 1, as the engine does). */
  intervalS?: number;
  /** Simulated seconds after which the run stops undecided (default 600). */
  deadlineS?: number;
  /** Sees every verdict and the simulated time it was given at. */
  onVerdict?: (verdict: Verdict, timeS: number) => void;
}

export interface SimulationResult {
  /** 'wait' when the deadline came first. */
  decision: Decision;
  /** Simulated seconds from the start of the canary step to the decision (or deadline). */
  timeS: number;
  /** Requests the canary answered before the decision, and the failed ones among them. */
  canaryRequests: number;
  canaryErrors: number;
  verdict: Verdict;
}

function counters(revision: number, requests: number): RevisionStats {
  const counts = new Array<number>(SIM_LATENCY_BOUNDS_MS.length + 1).fill(0);
  counts[4] = requests; // some history before the window, to exercise windowDelta
  return {
    revision,
    requests,
    errors: Math.floor(requests / 100),
    latency: { bounds: [...SIM_LATENCY_BOUNDS_MS], counts },
  };
}

function snapshot(s: RevisionStats): RevisionStats {
  return { ...s, latency: { bounds: s.latency.bounds, counts: [...s.latency.counts] } };
}

function observe(s: RevisionStats, p: RevisionProfile, rng: Prng): boolean {
  const failed = rng.next() < p.errorRate;
  const ms = p.latency.medianMs * Math.exp(p.latency.sigma * rng.normal());
  s.requests++;
  if (failed) s.errors++;
  let i = 0;
  while (i < SIM_LATENCY_BOUNDS_MS.length && ms > SIM_LATENCY_BOUNDS_MS[i]!) i++;
  s.latency.counts[i]!++;
  return failed;
}

/**
 * Runs one canary step on simulated traffic: requests arrive at `rate`, each goes to the canary with
 * probability `canaryWeight`, and every `intervalS` the judge looks at the window deltas of the
 * router-style cumulative counters, as the engine will. Deterministic for a given seed.
 */
export function simulateCanary(input: SimulationInput): SimulationResult {
  const rng = new Prng(input.seed);
  const config = input.config ?? ANALYSIS_DEFAULTS;
  const intervalS = input.intervalS ?? 1;
  const deadlineS = input.deadlineS ?? 600;
  const stable = counters(1, 10_000);
  const canary = counters(2, 0);
  const stableStart = snapshot(stable);
  let t = input.rate > 0 ? rng.exponential(input.rate) : Number.POSITIVE_INFINITY;
  let canaryRequests = 0;
  let canaryErrors = 0;
  for (let look = 1; ; look++) {
    const now = look * intervalS;
    while (t <= now) {
      if (rng.next() < input.canaryWeight) {
        canaryRequests++;
        if (observe(canary, input.canary, rng)) canaryErrors++;
      } else {
        observe(stable, input.stable, rng);
      }
      t += rng.exponential(input.rate);
    }
    const verdict = judge({
      stable: windowDelta(stable, stableStart),
      canary: windowDelta(canary, undefined),
      config,
    });
    input.onVerdict?.(verdict, now);
    if (verdict.decision !== 'wait' || now + intervalS > deadlineS) {
      return { decision: verdict.decision, timeS: now, canaryRequests, canaryErrors, verdict };
    }
  }
}
