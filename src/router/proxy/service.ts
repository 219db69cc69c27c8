import { NotFoundError } from '../../core/errors.js';
import { type Backend, BackendState, type RouteConfig, type RouteStatus } from '../router.js';
import { BackendEntry } from './backend.js';
import { LATENCY_BOUNDS_MS, RevisionCounters } from './histogram.js';

/**
 * A service's backend table. Every change is one synchronous update, so a request sees either the old
 * table or the new one (that is what makes `switchTo` atomic). The listener lives elsewhere.
 */
export class ServiceTable {
  readonly service: string;
  listen: string;
  drainTimeoutMs: number;
  /** Every backend, in insertion order; replaced (not mutated) on add and remove. */
  list: BackendEntry[] = [];
  readonly byId = new Map<string, BackendEntry>();
  readonly revisions = new Map<number, RevisionCounters>();

  constructor(route: RouteConfig) {
    this.service = route.service;
    this.listen = route.listen;
    this.drainTimeoutMs = route.drainTimeoutMs;
  }

  /**
   * Least open requests per unit of weight among active, healthy backends; ties are broken by smooth
   * weighted round-robin, so sequential traffic follows the weights too. `exclude` holds backends that
   * already failed this request.
   */
  pick(now: number, exclude: BackendEntry[] | undefined): BackendEntry | undefined {
    const list = this.list;
    let best = Number.POSITIVE_INFINITY;
    for (let i = 0; i < list.length; i++) {
      const b = list[i]!;
      if (!eligible(b, now, exclude)) continue;
      const score = b.open() / b.weight;
      if (score < best) best = score;
    }
    if (best === Number.POSITIVE_INFINITY) return undefined;
    let total = 0;
    let chosen: BackendEntry | undefined;
    for (let i = 0; i < list.length; i++) {
      const b = list[i]!;
      if (!eligible(b, now, exclude) || b.open() / b.weight !== best) continue;
      b.current += b.weight;
      total += b.weight;
      if (chosen === undefined || b.current > chosen.current) chosen = b;
    }
    chosen!.current -= total;
    return chosen;
  }

  counters(revision: number): RevisionCounters {
    let c = this.revisions.get(revision);
    if (c === undefined) {
      c = new RevisionCounters(revision);
      this.revisions.set(revision, c);
    }
    return c;
  }

  add(backends: Backend[]): void {
    const list = this.list.slice();
    for (const b of backends) {
      const existing = this.byId.get(b.id);
      if (existing) {
        existing.update(b);
        existing.state = BackendState.Active;
      } else {
        const e = new BackendEntry(b);
        this.byId.set(b.id, e);
        list.push(e);
      }
      this.counters(b.revision);
    }
    this.list = list;
  }

  switchTo(ids: string[], add: Backend[] = []): void {
    const wanted = new Set(ids);
    const adding = new Set(add.map((b) => b.id));
    for (const id of wanted) {
      if (!this.byId.has(id) && !adding.has(id))
        throw new NotFoundError(`backend ${id} of service ${this.service}`);
    }
    // One synchronous update: no request is routed between adding the new set and switching to it.
    if (add.length) this.add(add);
    for (const b of this.list) b.state = wanted.has(b.id) ? BackendState.Active : BackendState.Draining;
  }

  drain(ids: string[]): void {
    for (const id of ids) {
      const b = this.byId.get(id);
      if (b) b.state = BackendState.Draining;
    }
  }

  /** Requests and WebSockets still open on these backends (unknown ids count 0). */
  openOn(ids: string[]): number {
    let n = 0;
    for (const id of ids) n += this.byId.get(id)?.open() ?? 0;
    return n;
  }

  /** Forgets the backends and returns them; the caller closes their connections. */
  remove(ids: string[]): BackendEntry[] {
    const gone: BackendEntry[] = [];
    for (const id of ids) {
      const b = this.byId.get(id);
      if (!b) continue;
      this.byId.delete(id);
      gone.push(b);
    }
    if (gone.length === 0) return gone;
    this.list = this.list.filter((b) => this.byId.has(b.id));
    const live = new Set(this.list.map((b) => b.revision));
    for (const r of this.revisions.keys()) if (!live.has(r)) this.revisions.delete(r);
    return gone;
  }

  /** Returns false when the backend is unknown. */
  setHealthy(id: string, healthy: boolean): boolean {
    const b = this.byId.get(id);
    if (!b) return false;
    b.healthy = healthy;
    b.passiveUntil = 0;
    return true;
  }

  status(now: number): RouteStatus {
    return {
      service: this.service,
      listen: this.listen,
      backends: this.list.map((b) => b.status(now)),
      revisions: [...this.revisions.values()]
        .sort((a, b) => a.revision - b.revision)
        .map((c) => ({
          revision: c.revision,
          requests: c.requests,
          errors: c.errors,
          latency: { bounds: [...LATENCY_BOUNDS_MS], counts: [...c.counts] },
        })),
    };
  }
}

function eligible(b: BackendEntry, now: number, exclude: BackendEntry[] | undefined): boolean {
  return (
    b.state === BackendState.Active &&
    b.weight > 0 &&
    b.isHealthy(now) &&
    (exclude === undefined || !exclude.includes(b))
  );
}
