import { describe, expect, it } from 'vitest';
import {
  confidentQuantileBound,
  countAbove,
  histogramTotal,
  p99FromHistogram,
  quantileFromHistogram,
} from '../../src/analysis/histogram.js';
import { windowDelta } from '../../src/analysis/window.js';
import type { RevisionStats } from '../../src/router/router.js';

const bounds = [10, 50, 100];
const h = (counts: number[]) => ({ bounds, counts });

describe('histogram', () => {
  it('p99 is the upper bound of the bucket holding the 99th percentile', () => {
    expect(p99FromHistogram(h([99, 1, 0, 0]))).toBe(10);
    expect(p99FromHistogram(h([98, 2, 0, 0]))).toBe(50);
    expect(p99FromHistogram(h([0, 0, 50, 50]))).toBe(Number.POSITIVE_INFINITY);
    expect(p99FromHistogram(h([0, 0, 100, 1]))).toBe(100);
    expect(p99FromHistogram(h([0, 0, 0, 0]))).toBeUndefined();
    expect(quantileFromHistogram(h([50, 50, 0, 0]), 0.5)).toBe(10);
    expect(histogramTotal(h([1, 2, 3, 4]))).toBe(10);
  });

  it('a confident quantile bound needs a margin on short samples and converges to the quantile', () => {
    // 200 samples, 2 above 10 ms: p99 is 10 ms, but 2/200 is too close to 1% to trust it
    expect(p99FromHistogram(h([198, 2, 0, 0]))).toBe(10);
    expect(confidentQuantileBound(h([198, 2, 0, 0]), 0.99, 1)).toBe(50);
    expect(confidentQuantileBound(h([198, 2, 0, 0]), 0.99, 0)).toBe(50); // (2+1)/202 > 1%
    expect(confidentQuantileBound(h([99_500, 500, 0, 0]), 0.99, 1)).toBe(10);
    expect(confidentQuantileBound(h([50, 0, 0, 50]), 0.99, 1)).toBe(Number.POSITIVE_INFINITY);
  });

  it('counts observations above a bound', () => {
    expect(countAbove(h([5, 4, 3, 2]), 50)).toBe(5);
    expect(countAbove(h([5, 4, 3, 2]), 10)).toBe(9);
    expect(countAbove(h([5, 4, 3, 2]), Number.POSITIVE_INFINITY)).toBe(0);
    // a threshold inside a bucket does not count that bucket
    expect(countAbove(h([5, 4, 3, 2]), 70)).toBe(2);
  });
});

describe('windowDelta', () => {
  const stats = (requests: number, errors: number, counts: number[], b = bounds): RevisionStats => ({
    revision: 3,
    requests,
    errors,
    latency: { bounds: b, counts },
  });

  it('subtracts the snapshot taken at the start of the step', () => {
    expect(windowDelta(stats(150, 7, [100, 30, 15, 5]), stats(100, 5, [70, 20, 8, 2]))).toEqual({
      requests: 50,
      errors: 2,
      latency: { bounds, counts: [30, 10, 7, 3] },
    });
  });

  it('a revision without a snapshot counts from zero', () => {
    expect(windowDelta(stats(4, 1, [4, 0, 0, 0]), undefined)).toEqual({
      requests: 4,
      errors: 1,
      latency: { bounds, counts: [4, 0, 0, 0] },
    });
  });

  it('counters that went backwards (router restart) or changed buckets give the current counters', () => {
    const now = stats(10, 1, [10, 0, 0, 0]);
    expect(windowDelta(now, stats(500, 3, [400, 100, 0, 0])).requests).toBe(10);
    expect(windowDelta(now, stats(5, 0, [5, 0, 0, 0], [1, 2, 3])).requests).toBe(10);
  });

  it('does not alias the input arrays', () => {
    const now = stats(1, 0, [1, 0, 0, 0]);
    const w = windowDelta(now, undefined);
    w.latency.counts[0] = 99;
    expect(now.latency.counts[0]).toBe(1);
  });
});
