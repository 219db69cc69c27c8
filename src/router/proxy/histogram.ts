/** Upper bounds (ms) of the latency buckets; one more bucket past the last bound counts the rest (+Inf). */
export const LATENCY_BOUNDS_MS: readonly number[] = [
  1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000,
];

/** Per-revision counters. `counts` has `LATENCY_BOUNDS_MS.length + 1` entries, the last one for +Inf. */
export class RevisionCounters {
  requests = 0;
  errors = 0;
  readonly counts: number[] = new Array<number>(LATENCY_BOUNDS_MS.length + 1).fill(0);

  constructor(readonly revision: number) {}

  observe(ms: number, error: boolean): void {
    this.requests++;
    if (error) this.errors++;
    let i = 0;
    while (i < LATENCY_BOUNDS_MS.length && ms > LATENCY_BOUNDS_MS[i]!) i++;
    this.counts[i]!++;
  }
}
