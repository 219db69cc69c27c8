import { describe, expect, it } from 'vitest';
import { type RevisionProfile, simulateCanary } from '../../src/analysis/simulate.js';
import { runScenario, type ScenarioSummary } from '../../src/analysis/summary.js';

// Required figures of the canary judge over 1,000 seeded simulated canaries each (defaults, 1 s looks).
const fast = { medianMs: 20, sigma: 0.5 };
const rev = (errorRate: number, latency = fast): RevisionProfile => ({ errorRate, latency });
const RUNS = 1000;

function show(name: string, s: ScenarioSummary): void {
  const f = (x: number) => (Number.isInteger(x) ? String(x) : x.toFixed(1));
  const sp = (v: ScenarioSummary['timeS']) => `${f(v.mean)}/${f(v.p50)}/${f(v.p99)}`;
  console.log(
    `${name.padEnd(44)} promoted ${s.promoted} aborted ${s.aborted} undecided ${s.undecided} | ` +
      `mean/p50/p99: time ${sp(s.timeS)} s, canary requests ${sp(s.canaryRequests)}, ` +
      `failed ${sp(s.canaryErrors)}`,
  );
}

describe('simulated canaries (1,000 runs each, 100 req/s, 15% canary = 15 req/s)', () => {
  it('healthy canary (stable and canary at 0% and at 1% errors): false aborts ≤ 1%', () => {
    for (const p of [0, 0.01]) {
      const s = runScenario({ rate: 100, canaryWeight: 0.15, stable: rev(p), canary: rev(p) }, RUNS);
      show(`healthy, stable ${p * 100}% canary ${p * 100}%`, s);
      expect(s.aborted).toBeLessThanOrEqual(RUNS * 0.01);
      expect(s.promoted).toBeGreaterThanOrEqual(RUNS * 0.98);
    }
  });

  it('bad canary (5% errors vs 0%): missed aborts ≤ 1%', () => {
    const s = runScenario({ rate: 100, canaryWeight: 0.15, stable: rev(0), canary: rev(0.05) }, RUNS);
    show('bad, stable 0% canary 5%', s);
    expect(s.promoted).toBeLessThanOrEqual(RUNS * 0.01);
    expect(s.aborted).toBeGreaterThanOrEqual(RUNS * 0.99);
  });

  it('failed canary requests before the abort stay well under 20 (100 req/s, 10% and 20% weight)', () => {
    for (const canaryWeight of [0.1, 0.2]) {
      const s = runScenario({ rate: 100, canaryWeight, stable: rev(0), canary: rev(0.05) }, RUNS);
      show(`bad 5% at 100 req/s, weight ${canaryWeight * 100}%`, s);
      expect(s.aborted).toBe(RUNS);
      expect(s.canaryErrors.mean).toBeLessThan(8);
      expect(s.canaryErrors.p99).toBeLessThanOrEqual(12);
    }
  });

  it('a canary 3× slower than stable is aborted on latency', () => {
    const slow = { medianMs: 60, sigma: 0.5 };
    const codes = new Map<string, number>();
    for (let seed = 1; seed <= 200; seed++) {
      const r = simulateCanary({ seed, rate: 100, canaryWeight: 0.15, stable: rev(0), canary: rev(0, slow) });
      const key = `${r.decision}/${r.verdict.code}`;
      codes.set(key, (codes.get(key) ?? 0) + 1);
    }
    console.log(
      `slow canary (median 60 ms vs 20 ms), 200 runs: ${JSON.stringify(Object.fromEntries(codes))}`,
    );
    expect(codes.get('abort/latency')).toBe(200);
  });

  it('at 1 req/s total the judge waits for traffic, saying so, rather than deciding', () => {
    for (let seed = 1; seed <= 20; seed++) {
      const reasons: string[] = [];
      const r = simulateCanary({
        seed,
        rate: 1,
        canaryWeight: 0.1,
        stable: rev(0.01),
        canary: rev(0.01),
        deadlineS: 600,
        onVerdict: (v) => reasons.push(v.reason),
      });
      expect(r.decision).toBe('wait');
      expect(reasons).toHaveLength(600);
      for (const reason of reasons) expect(reason).toMatch(/^not enough traffic: \d+ canary requests/);
      if (seed === 1) console.log(`1 req/s, 10% canary, after 600 s: ${reasons.at(-1)}`);
    }
  });

  it('is deterministic for a seed', () => {
    const input = { seed: 42, rate: 100, canaryWeight: 0.1, stable: rev(0.01), canary: rev(0.05) };
    expect(simulateCanary(input)).toEqual(simulateCanary(input));
  });
});
