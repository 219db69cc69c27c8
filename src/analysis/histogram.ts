/** Latency histogram as the router reports it: upper bounds (ms) and one count per bucket, +Inf last. */
export interface Histogram {
  bounds: number[];
  /** `bounds.length + 1` entries, not cumulative: counts[i] is in (bounds[i-1], bounds[i]]. */
  counts: number[];
}

export function histogramTotal(h: Histogram): number {
  let total = 0;
  for (const c of h.counts) total += c;
  return total;
}

/**
 * Upper bound (ms) of the bucket holding quantile q: the smallest bound with at least q of the
 * observations at or below it. Infinity when that is the +Inf bucket; undefined for an empty histogram.
 */
export function quantileFromHistogram(h: Histogram, q: number): number | undefined {
  const total = histogramTotal(h);
  if (total <= 0) return undefined;
  const target = q * total;
  let seen = 0;
  for (let i = 0; i < h.counts.length; i++) {
    seen += h.counts[i] ?? 0;
    if (seen >= target - 1e-9) return h.bounds[i] ?? Number.POSITIVE_INFINITY;
  }
  return Number.POSITIVE_INFINITY;
}

export function p99FromHistogram(h: Histogram): number | undefined {
  return quantileFromHistogram(h, 0.99);
}

/**
 * Observations certainly slower than `thresholdMs`: those in buckets whose lower bound is at or above
 * it (a bucket straddling the threshold is not counted, so the count never overstates slowness).
 */
export function countAbove(h: Histogram, thresholdMs: number): number {
  let n = 0;
  for (let i = 0; i < h.counts.length; i++) {
    const lower = i === 0 ? Number.NEGATIVE_INFINITY : (h.bounds[i - 1] ?? Number.POSITIVE_INFINITY);
    if (lower >= thresholdMs) n += h.counts[i] ?? 0;
  }
  return n;
}

/**
 * A bucket bound that `h`'s population exceeds with probability ≤ 1 − q, with a margin for a short
 * sample: the smallest bound whose smoothed exceedance rate plus `sigmas` standard errors is ≤ 1 − q.
 * Converges to the q-quantile bucket bound as the sample grows. Infinity if no finite bound qualifies.
 */
export function confidentQuantileBound(h: Histogram, q: number, sigmas: number): number {
  const total = histogramTotal(h);
  let seen = 0;
  for (let i = 0; i < h.bounds.length; i++) {
    seen += h.counts[i] ?? 0;
    const rate = (total - seen + 1) / (total + 2);
    if (rate + sigmas * Math.sqrt((rate * (1 - rate)) / (total + 2)) <= 1 - q) return h.bounds[i]!;
  }
  return Number.POSITIVE_INFINITY;
}
