import type { Metric, Registry } from 'prom-client';

/** One series of a histogram whose buckets were counted elsewhere (the proxy's per-revision counters). */
export interface BucketSeries {
  labels: Record<string, string>;
  /** Upper bounds in the metric's unit, ascending; `counts` has one more entry, for +Inf. */
  bounds: readonly number[];
  /** Per-bucket counts (not cumulative). */
  counts: readonly number[];
  sum: number;
}

/**
 * A histogram read from counters kept elsewhere. prom-client's Histogram only learns by `observe()`, which
 * would put a call per request on the data path; this hands prom-client the finished buckets at scrape
 * time instead (a custom collector: `get()` returns the metric object prom-client formats).
 */
export class BucketHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly series: () => BucketSeries[],
  ) {}

  register(registry: Registry): void {
    registry.registerMetric(this as unknown as Metric);
  }

  get(): { name: string; help: string; type: string; aggregator: string; values: unknown[] } {
    const values: Array<{ metricName: string; labels: Record<string, string | number>; value: number }> = [];
    for (const s of this.series()) {
      let total = 0;
      for (let i = 0; i <= s.bounds.length; i++) {
        total += s.counts[i] ?? 0;
        const le = i < s.bounds.length ? s.bounds[i]! : '+Inf';
        values.push({ metricName: `${this.name}_bucket`, labels: { ...s.labels, le }, value: total });
      }
      values.push({ metricName: `${this.name}_sum`, labels: s.labels, value: s.sum });
      values.push({ metricName: `${this.name}_count`, labels: s.labels, value: total });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }
}
