import { describe, expect, it } from 'vitest';
import {
  bernoulliDrift,
  bernoulliLlr,
  expectedSampleSize,
  sprtBounds,
  sprtState,
} from '../../src/analysis/sprt.js';

describe('sprt', () => {
  it('bounds are ln((1-β)/α) and ln(β/(1-α))', () => {
    const b = sprtBounds(0.01, 0.01);
    expect(b.upper).toBeCloseTo(Math.log(99), 12);
    expect(b.lower).toBeCloseTo(-Math.log(99), 12);
    expect(b.upper).toBeCloseTo(4.59512, 5);
    const c = sprtBounds(0.05, 0.2);
    expect(c.upper).toBeCloseTo(Math.log(16), 12);
    expect(c.lower).toBeCloseTo(Math.log(0.2 / 0.95), 12);
  });

  it('LLR of small inputs', () => {
    expect(bernoulliLlr(0, 0, 0.01, 0.03)).toBe(0);
    expect(bernoulliLlr(1, 1, 0.5, 0.75)).toBeCloseTo(Math.log(1.5), 12);
    expect(bernoulliLlr(2, 0, 0.5, 0.75)).toBeCloseTo(2 * Math.log(0.5), 12);
    expect(bernoulliLlr(10, 1, 0.01, 0.03)).toBeCloseTo(Math.log(3) + 9 * Math.log(0.97 / 0.99), 12);
    // 3 errors in 3 requests at p0 = 0.5%, p1 = 2.5%: 3·ln 5 = 4.828 > 4.595
    expect(bernoulliLlr(3, 3, 0.005, 0.025)).toBeCloseTo(4.82831, 5);
    // 100 clean requests: 100·ln(0.975/0.995) = −2.03053
    expect(bernoulliLlr(100, 0, 0.005, 0.025)).toBeCloseTo(-2.03053, 5);
  });

  it('state against the bounds', () => {
    const b = sprtBounds(0.01, 0.01);
    expect(sprtState(4.6, b)).toBe('h1');
    expect(sprtState(b.upper, b)).toBe('h1');
    expect(sprtState(4.5, b)).toBe('continue');
    expect(sprtState(-4.6, b)).toBe('h0');
  });

  it('drift and expected sample size', () => {
    const b = sprtBounds(0.01, 0.01);
    const d = bernoulliDrift(0, 0.005, 0.025);
    expect(d).toBeCloseTo(Math.log(0.975 / 0.995), 12);
    expect(expectedSampleSize(0, 0, 0, 0.005, 0.025, b)).toBeCloseTo(b.upper / -d, 9);
    const up = bernoulliDrift(0.05, 0.005, 0.025);
    expect(expectedSampleSize(10, 1, 0.05, 0.005, 0.025, b)).toBeCloseTo(10 + (b.upper - 1) / up, 9);
    expect(expectedSampleSize(10, 5, 0.05, 0.005, 0.025, b)).toBe(10);
  });
});
