import type { RevisionStats } from '../router/router.js';
import type { Histogram } from './histogram.js';

/** What one revision did during the analysis window (deltas of the router's cumulative counters). */
export interface WindowStats {
  requests: number;
  /** 5xx answers plus upstream failures. */
  errors: number;
  latency: Histogram;
}

/**
 * Counters of `now` minus those of `start` (the snapshot taken when the canary step began; undefined
 * when the revision had no counters then). If the counters went backwards or the buckets changed, the
 * router restarted and its counters began again at zero, so `now` alone is the window.
 */
export function windowDelta(now: RevisionStats, start: RevisionStats | undefined): WindowStats {
  const whole = (): WindowStats => ({
    requests: now.requests,
    errors: Math.min(now.errors, now.requests),
    latency: { bounds: [...now.latency.bounds], counts: [...now.latency.counts] },
  });
  if (!start) return whole();
  const sameBuckets =
    start.latency.bounds.length === now.latency.bounds.length &&
    start.latency.bounds.every((b, i) => b === now.latency.bounds[i]) &&
    start.latency.counts.length === now.latency.counts.length;
  const counts = now.latency.counts.map((c, i) => c - (start.latency.counts[i] ?? 0));
  const requests = now.requests - start.requests;
  const errors = now.errors - start.errors;
  if (!sameBuckets || requests < 0 || errors < 0 || counts.some((c) => c < 0)) return whole();
  return {
    requests,
    errors: Math.min(errors, requests),
    latency: { bounds: [...now.latency.bounds], counts },
  };
}
