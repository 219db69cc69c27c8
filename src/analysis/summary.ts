import { type SimulationInput, type SimulationResult, simulateCanary } from './simulate.js';

/** Mean and percentiles of one measured quantity over many runs. */
export interface Spread {
  mean: number;
  p50: number;
  p99: number;
  max: number;
}

export interface ScenarioSummary {
  runs: number;
  promoted: number;
  aborted: number;
  /** Still waiting at the deadline. */
  undecided: number;
  /** Simulated seconds to the decision (deadline for undecided runs). */
  timeS: Spread;
  /** Canary requests, and failed canary requests, before the decision. */
  canaryRequests: Spread;
  canaryErrors: Spread;
}

/** Nearest-rank percentile of sorted values. */
export function percentileOf(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil(q * sorted.length)));
  return sorted[rank - 1]!;
}

export function spread(values: readonly number[]): Spread {
  const sorted = [...values].sort((a, b) => a - b);
  const mean = values.reduce((a, b) => a + b, 0) / Math.max(1, values.length);
  return {
    mean,
    p50: percentileOf(sorted, 0.5),
    p99: percentileOf(sorted, 0.99),
    max: sorted[sorted.length - 1] ?? Number.NaN,
  };
}

/** Runs `runs` simulated canaries with seeds firstSeed, firstSeed + 1, … and summarises them. */
export function runScenario(
  base: Omit<SimulationInput, 'seed' | 'onVerdict'>,
  runs: number,
  firstSeed = 1,
): ScenarioSummary {
  const results: SimulationResult[] = [];
  for (let i = 0; i < runs; i++) results.push(simulateCanary({ ...base, seed: firstSeed + i }));
  const count = (d: string) => results.filter((r) => r.decision === d).length;
  return {
    runs,
    promoted: count('promote'),
    aborted: count('abort'),
    undecided: count('wait'),
    timeS: spread(results.map((r) => r.timeS)),
    canaryRequests: spread(results.map((r) => r.canaryRequests)),
    canaryErrors: spread(results.map((r) => r.canaryErrors)),
  };
}
