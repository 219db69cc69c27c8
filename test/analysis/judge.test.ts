import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ANALYSIS_DEFAULTS, type AnalysisConfig, analysisConfig } from '../../src/analysis/config.js';
import { judge } from '../../src/analysis/judge.js';
import { errorHypotheses } from '../../src/analysis/tests.js';
import type { WindowStats } from '../../src/analysis/window.js';

const bounds = [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000];
/** n requests, `errors` of them failed, `slow` of them in the 250 ms bucket, the rest in the 25 ms one. */
const w = (requests: number, errors = 0, slow = 0): WindowStats => {
  const counts = new Array<number>(bounds.length + 1).fill(0);
  counts[4] = requests - slow;
  counts[7] = slow;
  return { requests, errors, latency: { bounds, counts } };
};
const config = ANALYSIS_DEFAULTS;

describe('judge', () => {
  it('a router without a latency histogram (HAProxy): errors alone decide, and the reason says so', () => {
    const blind = (requests: number, errors = 0): WindowStats => ({
      requests,
      errors,
      latency: { bounds: [], counts: [0] },
    });
    const good = judge({ stable: blind(5000), canary: blind(2000), config });
    expect(good.decision).toBe('promote');
    expect(good.reason).toMatch(/latency not measured by this router/);
    expect(judge({ stable: blind(5000), canary: blind(3), config }).decision).toBe('wait');
    const bad = judge({ stable: blind(5000), canary: blind(200, 40), config });
    expect(bad.decision).toBe('abort');
    expect(bad.code).toBe('error-rate');
  });

  it('waits without data, saying traffic is missing', () => {
    const v = judge({ stable: w(0), canary: w(0), config });
    expect(v.decision).toBe('wait');
    expect(v.code).toBe('canary-traffic');
    expect(v.reason).toMatch(/^not enough traffic: 0 canary requests \(0 errors\), need ~\d+ to decide$/);
    expect(v.figures.llrErrors).toBe(0);
  });

  it('error hypotheses: floor for a clean stable, stable rate plus a margin otherwise', () => {
    expect(errorHypotheses(w(1000), config)).toEqual({ p0: 0.005, p1: 0.025 });
    const { p0, p1 } = errorHypotheses(w(10_000, 200), config);
    const smoothed = (200 + 0.005 * 50) / 10_050;
    expect(p0).toBeCloseTo(smoothed + Math.sqrt((smoothed * (1 - smoothed)) / 10_050), 12);
    expect(p1).toBeCloseTo(p0 * 2.5, 12);
  });

  it('aborts a canary failing every request after minAbortRequests', () => {
    expect(judge({ stable: w(90), canary: w(9, 9), config }).decision).toBe('wait');
    const v = judge({ stable: w(100), canary: w(10, 10), config });
    expect(v.decision).toBe('abort');
    expect(v.code).toBe('error-rate');
    expect(v.reason).toMatch(
      /^canary is worse: canary errors 100\.0% \(10\/10\) vs stable 0\.00% \(0\/100\)/,
    );
    expect(v.figures.llrErrors).toBeCloseTo(10 * Math.log(5), 9);
  });

  it('promotes a clean canary once both tests accept and minRequests is reached', () => {
    const v = judge({ stable: w(2000, 0, 10), canary: w(300), config });
    expect(v.decision).toBe('promote');
    expect(v.figures.llrErrors).toBeCloseTo(300 * Math.log(0.975 / 0.995), 9);
    expect(v.figures.llrLatency).toBeCloseTo(300 * Math.log(0.95 / 0.99), 9);
    expect(v.figures.latencyThresholdMs).toBe(25);
    expect(v.figures.stable.p99Ms).toBe(25);
  });

  it('waits for stable traffic before trusting its p99', () => {
    const v = judge({ stable: w(150), canary: w(300), config });
    expect(v.decision).toBe('wait');
    expect(v.code).toBe('stable-traffic');
    expect(v.reason).toContain('150 stable requests, need 200');
  });

  it('aborts a canary slower than the stable p99 on many requests', () => {
    const v = judge({ stable: w(2000), canary: w(100, 0, 20), config });
    expect(v.decision).toBe('abort');
    expect(v.code).toBe('latency');
    expect(v.reason).toContain('20 of 100 canary requests (20.0%) slower than stable p99 bound (25 ms)');
  });

  it('says what it still needs when undecided', () => {
    const v = judge({ stable: w(2000, 20), canary: w(200, 4), config });
    expect(v.decision).toBe('wait');
    expect(v.code).toBe('undecided');
    expect(v.reason).toMatch(/need ~\d+ canary requests to decide$/);
  });
});

const windowArb = (maxPerBucket: number) =>
  fc
    .record({
      counts: fc.array(fc.nat(maxPerBucket), { minLength: bounds.length + 1, maxLength: bounds.length + 1 }),
      errorShare: fc.double({ min: 0, max: 1, noNaN: true }),
    })
    .map(({ counts, errorShare }): WindowStats => {
      const requests = counts.reduce((a, b) => a + b, 0);
      return { requests, errors: Math.floor(requests * errorShare), latency: { bounds, counts } };
    });
const configArb = fc
  .record({
    minRequests: fc.integer({ min: 1, max: 600 }),
    minAbortRequests: fc.integer({ min: 1, max: 600 }),
  })
  .map((o): AnalysisConfig => analysisConfig(o));
const rank = { promote: 0, wait: 1, abort: 2 } as const;

describe('judge properties', () => {
  it('never aborts below minAbortRequests nor promotes below minRequests canary requests', () => {
    fc.assert(
      fc.property(windowArb(400), windowArb(60), configArb, (stable, canary, cfg) => {
        const v = judge({ stable, canary, config: cfg });
        if (v.decision === 'promote') expect(canary.requests).toBeGreaterThanOrEqual(cfg.minRequests);
        if (v.decision === 'abort') expect(canary.requests).toBeGreaterThanOrEqual(cfg.minAbortRequests);
        if (canary.requests === 0) expect(v.decision).toBe('wait');
        if (stable.requests < cfg.minStableRequests) expect(v.decision).not.toBe('promote');
      }),
      { numRuns: 2000 },
    );
  });

  it('with the defaults, never decides on fewer than minAbortRequests (abort) or minRequests (promote)', () => {
    fc.assert(
      fc.property(windowArb(400), windowArb(10), (stable, canary) => {
        const v = judge({ stable, canary, config });
        if (canary.requests < config.minAbortRequests) expect(v.decision).toBe('wait');
        if (canary.requests < config.minRequests) expect(v.decision).not.toBe('promote');
      }),
      { numRuns: 1000 },
    );
  });

  it('more canary errors never move the decision towards promote', () => {
    fc.assert(
      fc.property(
        windowArb(400),
        windowArb(60),
        fc.double({ min: 0, max: 1, noNaN: true }),
        configArb,
        (stable, canary, more, cfg) => {
          const worse = {
            ...canary,
            errors: canary.errors + Math.floor((canary.requests - canary.errors) * more),
          };
          const a = judge({ stable, canary, config: cfg }).decision;
          const b = judge({ stable, canary: worse, config: cfg }).decision;
          expect(rank[b]).toBeGreaterThanOrEqual(rank[a]);
        },
      ),
      { numRuns: 2000 },
    );
  });
});
