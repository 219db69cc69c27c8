/** Upper bounds (ms) of the latency buckets; one more bucket past the last bound counts the rest (+Inf). */
export const LATENCY_BOUNDS_MS: readonly number[] = [
  1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000,
];

/**
 * Per-revision counters of the data path: plain integer (and one float) increments, so the request path
 * pays nothing for metrics — they are read when someone asks for the status (`/metrics` included).
 * `counts` has `LATENCY_BOUNDS_MS.length + 1` entries, the last one for +Inf.
 */
export class RevisionCounters {
  requests = 0;
  errors = 0;
  /** Sum of the observed latencies (a histogram's `_sum`). */
  sumMs = 0;
  /** Attempts by the status the backend answered: index 0 none (the attempt failed), 1–5 the 1xx–5xx classes. */
  readonly classes: number[] = [0, 0, 0, 0, 0, 0];
  /** Attempts that could not connect to a backend. */
  connectErrors = 0;
  /** Requests sent again to another backend after a failed attempt. */
  retries = 0;
  readonly counts: number[] = new Array<number>(LATENCY_BOUNDS_MS.length + 1).fill(0);

  constructor(readonly revision: number) {}

  observe(ms: number, error: boolean, status = 0): void {
    this.requests++;
    if (error) this.errors++;
    this.sumMs += ms;
    this.classes[status >= 100 && status < 600 ? (status / 100) | 0 : 0]!++;
    let i = 0;
    while (i < LATENCY_BOUNDS_MS.length && ms > LATENCY_BOUNDS_MS[i]!) i++;
    this.counts[i]!++;
  }
}

/**
 * Connections accepted and open on one listener, and its TLS handshakes (completed, failed). A listener
 * shared by several services has one set, which each of them reports (metrics count it once, by address).
 */
export class ListenerCounters {
  accepted = 0;
  open = 0;
  handshakes = 0;
  handshakeErrors = 0;
}
