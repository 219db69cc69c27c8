import { p99FromHistogram } from '../analysis/histogram.js';
import { windowDelta } from '../analysis/window.js';
import type { RevisionStats, RouteStatus } from '../router/router.js';
import { Ring } from './ring.js';

/** One revision over one sampling interval. */
export interface RevisionPoint {
  /** Requests per second over the interval. */
  rps: number;
  /** errors / requests over the interval (0 without requests). */
  errorRate: number;
  /** Upper bound (ms) of the bucket holding p99 over the interval; null without requests or beyond the last bound. */
  p99Ms: number | null;
  requests: number;
  errors: number;
}

/** One service at one instant: every revision the proxy counted during the interval before it. */
export interface ServicePoint {
  /** Epoch ms of the sample. */
  t: number;
  revisions: Record<string, RevisionPoint>;
}

export interface SamplerOptions {
  intervalMs?: number | undefined;
  /** How much history is kept (default 15 minutes). */
  windowMs?: number | undefined;
  now?: () => number;
}

type Source = {
  services: () => Promise<string[]>;
  status: (service: string) => Promise<RouteStatus | undefined>;
};

/**
 * The dashboard's charts: every `intervalMs` it reads each service's cumulative per-revision counters
 * from the router and keeps the difference from the previous reading (rate, error rate, p99) in a ring
 * of `windowMs`. Counters that went backwards (a proxy restart) start a new baseline.
 */
export class Sampler {
  readonly intervalMs: number;
  private readonly capacity: number;
  private readonly now: () => number;
  private readonly rings = new Map<string, Ring<ServicePoint>>();
  private readonly last = new Map<string, { t: number; stats: Map<number, RevisionStats> }>();
  private readonly listeners = new Set<(service: string, point: ServicePoint) => void>();
  private timer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> | undefined;

  constructor(
    private readonly source: Source,
    opts: SamplerOptions = {},
  ) {
    this.intervalMs = opts.intervalMs ?? 2000;
    this.capacity = Math.max(1, Math.ceil((opts.windowMs ?? 15 * 60_000) / this.intervalMs));
    this.now = opts.now ?? Date.now;
  }

  start(): void {
    if (this.timer) return;
    const tick = () => {
      this.ticking = this.sample().finally(() => {
        if (this.timer) this.timer = setTimeout(tick, this.intervalMs);
      });
    };
    this.timer = setTimeout(tick, 0);
  }

  async stop(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.ticking;
  }

  /** Called with each new point (the event stream). */
  onPoint(listener: (service: string, point: ServicePoint) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The service's points, oldest first. */
  series(service: string): ServicePoint[] {
    return this.rings.get(service)?.toArray() ?? [];
  }

  /** One reading of every service. Exposed for tests. */
  async sample(): Promise<void> {
    let names: string[];
    try {
      names = await this.source.services();
    } catch {
      return;
    }
    for (const name of this.rings.keys())
      if (!names.includes(name)) {
        this.rings.delete(name);
        this.last.delete(name);
      }
    await Promise.all(names.map((n) => this.sampleOne(n).catch(() => undefined)));
  }

  private async sampleOne(service: string): Promise<void> {
    const route = await this.source.status(service);
    const t = this.now();
    const stats = new Map((route?.revisions ?? []).map((r) => [r.revision, r]));
    const prev = this.last.get(service);
    this.last.set(service, { t, stats });
    // The first reading is the baseline: counters since the proxy started are not one interval.
    if (!prev) return;
    const secs = Math.max((t - prev.t) / 1000, 0.001);
    const revisions: Record<string, RevisionPoint> = {};
    for (const [rev, now] of stats) {
      const w = windowDelta(now, prev.stats.get(rev));
      const p99 = p99FromHistogram(w.latency);
      revisions[String(rev)] = {
        rps: w.requests / secs,
        errorRate: w.requests > 0 ? w.errors / w.requests : 0,
        p99Ms: p99 === undefined || !Number.isFinite(p99) ? null : p99,
        requests: w.requests,
        errors: w.errors,
      };
    }
    let ring = this.rings.get(service);
    if (!ring) {
      ring = new Ring(this.capacity);
      this.rings.set(service, ring);
    }
    const point = { t, revisions };
    ring.push(point);
    for (const l of this.listeners) l(service, point);
  }
}
