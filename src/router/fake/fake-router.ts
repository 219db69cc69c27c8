import { InputError, NotFoundError } from '../../core/errors.js';
import { LATENCY_BOUNDS_MS } from '../proxy/histogram.js';
import {
  type Backend,
  BackendState,
  type BackendStatus,
  type DrainResult,
  type RevisionSplit,
  type RevisionStats,
  type RouteConfig,
  type RouteMode,
  type Router,
  type RouteStatus,
} from '../router.js';
import { checkPreviewAddress, parseMode, parsePreviewRevision, parseSplit } from '../validate.js';

const ADDRESS = /^(\[[^\]]+\]|[^:\s]*):\d{1,5}$/;

export type FakeRouterOp = Exclude<keyof Router, 'kind'>;

export interface FakeRouterCall {
  op: FakeRouterOp;
  args: unknown[];
}

interface FakeRoute {
  config: RouteConfig;
  backends: Map<string, BackendStatus>;
  stats: Map<number, RevisionStats>;
  split: RevisionSplit | null;
  previewRevision: number | null;
  mode: RouteMode;
}

/**
 * In-memory router for tests: same semantics as the proxy (the contract suite runs against both),
 * records every call, fails on demand, and lets a test set in-flight counts to exercise draining.
 */
export class FakeRouter implements Router {
  readonly kind = 'fake';
  readonly calls: FakeRouterCall[] = [];
  private readonly routes = new Map<string, FakeRoute>();
  private readonly failures = new Map<FakeRouterOp, unknown[]>();
  private readonly waiters = new Set<() => void>();

  /** The next call of `op` throws `err` (queued: call it twice to fail twice). */
  failNext(op: FakeRouterOp, err: unknown): void {
    const q = this.failures.get(op) ?? [];
    q.push(err);
    this.failures.set(op, q);
  }

  /** Pretends `n` requests are open on a backend; lowering it wakes `waitDrained`. */
  setInFlight(service: string, id: string, n: number, websockets = 0): void {
    const b = this.routes.get(service)?.backends.get(id);
    if (!b) throw new NotFoundError(`backend ${id} of service ${service}`);
    b.inFlight = n;
    b.websockets = websockets;
    for (const w of [...this.waiters]) w();
  }

  /** Replaces a revision's counters, as canary analysis would read them. */
  setRevisionStats(service: string, stats: RevisionStats): void {
    this.route(service).stats.set(stats.revision, structuredClone(stats));
  }

  /** Calls of one operation, in order. */
  callsOf(op: FakeRouterOp): unknown[][] {
    return this.calls.filter((c) => c.op === op).map((c) => c.args);
  }

  private enter(op: FakeRouterOp, args: unknown[]): void {
    this.calls.push({ op, args: structuredClone(args) });
    const q = this.failures.get(op);
    if (q && q.length > 0) throw q.shift();
  }

  private route(service: string): FakeRoute {
    const r = this.routes.get(service);
    if (!r) throw new NotFoundError(`route for service ${service}`);
    return r;
  }

  async ensureRoute(route: RouteConfig): Promise<void> {
    this.enter('ensureRoute', [route]);
    if (!ADDRESS.test(route.listen)) {
      throw new InputError(`listen address "${route.listen}" is not host:port`);
    }
    const preview = route.preview ?? undefined;
    checkPreviewAddress(route.listen, preview, (a) => ADDRESS.test(a));
    for (const r of this.routes.values()) {
      if (r.config.service === route.service) continue;
      for (const addr of [route.listen, preview]) {
        if (addr !== undefined && (r.config.listen === addr || r.config.preview === addr))
          throw new InputError(`listen address ${addr} is already used by service ${r.config.service}`);
      }
    }
    const config: RouteConfig = {
      service: route.service,
      listen: route.listen,
      drainTimeoutMs: route.drainTimeoutMs,
    };
    if (preview !== undefined) config.preview = preview;
    const existing = this.routes.get(route.service);
    if (existing) existing.config = config;
    else
      this.routes.set(route.service, {
        config,
        backends: new Map(),
        stats: new Map(),
        split: null,
        previewRevision: null,
        mode: { kind: 'serve' },
      });
  }

  async removeRoute(service: string): Promise<void> {
    this.enter('removeRoute', [service]);
    this.routes.delete(service);
    this.wake();
  }

  async addBackends(service: string, backends: Backend[], opts?: { standby?: boolean }): Promise<void> {
    this.enter('addBackends', opts === undefined ? [service, backends] : [service, backends, opts]);
    this.put(this.route(service), backends, opts?.standby === true);
  }

  /** Adds or re-activates (or puts in standby) backends, keeping the counters of ones already known. */
  private put(r: FakeRoute, backends: Backend[], standby = false): void {
    for (const b of backends) {
      const prev = r.backends.get(b.id);
      r.backends.set(b.id, {
        id: b.id,
        address: b.address,
        revision: b.revision,
        weight: b.weight ?? 1,
        state: standby ? BackendState.Standby : BackendState.Active,
        healthy: prev?.healthy ?? true,
        inFlight: prev?.inFlight ?? 0,
        websockets: prev?.websockets ?? 0,
        requests: prev?.requests ?? 0,
      });
      if (!r.stats.has(b.revision)) r.stats.set(b.revision, emptyStats(b.revision));
    }
  }

  async switchTo(service: string, ids: string[], add: Backend[] = []): Promise<void> {
    this.enter('switchTo', add.length ? [service, ids, add] : [service, ids]);
    const r = this.route(service);
    const adding = new Set(add.map((b) => b.id));
    for (const id of ids)
      if (!r.backends.has(id) && !adding.has(id))
        throw new NotFoundError(`backend ${id} of service ${service}`);
    if (add.length) this.put(r, add);
    const wanted = new Set(ids);
    for (const b of r.backends.values())
      b.state = wanted.has(b.id) ? BackendState.Active : BackendState.Draining;
  }

  async drain(service: string, ids: string[]): Promise<void> {
    this.enter('drain', [service, ids]);
    const r = this.routes.get(service);
    for (const id of ids) {
      const b = r?.backends.get(id);
      if (b) b.state = BackendState.Draining;
    }
  }

  waitDrained(service: string, ids: string[], timeoutMs: number): Promise<DrainResult> {
    try {
      this.enter('waitDrained', [service, ids, timeoutMs]);
    } catch (e) {
      return Promise.reject(e);
    }
    const started = Date.now();
    const open = (): number => {
      const r = this.routes.get(service);
      return ids.reduce((n, id) => {
        const b = r?.backends.get(id);
        return n + (b ? b.inFlight + b.websockets : 0);
      }, 0);
    };
    const result = (drained: boolean): DrainResult => ({
      drained,
      inFlight: open(),
      waitedMs: Date.now() - started,
    });
    if (open() === 0) return Promise.resolve(result(true));
    return new Promise((resolve) => {
      const check = (): void => {
        if (open() > 0) return;
        finish(true);
      };
      const finish = (drained: boolean): void => {
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve(result(drained));
      };
      const timer = setTimeout(() => finish(false), timeoutMs);
      this.waiters.add(check);
    });
  }

  async removeBackends(service: string, ids: string[]): Promise<void> {
    this.enter('removeBackends', [service, ids]);
    const r = this.routes.get(service);
    if (!r) return;
    for (const id of ids) r.backends.delete(id);
    const live = new Set([...r.backends.values()].map((b) => b.revision));
    for (const rev of r.stats.keys()) if (!live.has(rev)) r.stats.delete(rev);
    this.wake();
  }

  async setHealthy(service: string, id: string, healthy: boolean): Promise<void> {
    this.enter('setHealthy', [service, id, healthy]);
    const b = this.routes.get(service)?.backends.get(id);
    if (b) b.healthy = healthy;
  }

  async setSplit(service: string, split: RevisionSplit | null): Promise<void> {
    this.enter('setSplit', [service, split]);
    const clean = parseSplit(split);
    this.route(service).split = clean;
  }

  async setPreview(service: string, revision: number | null): Promise<void> {
    this.enter('setPreview', [service, revision]);
    const clean = parsePreviewRevision(revision);
    this.route(service).previewRevision = clean;
  }

  /** The fake holds no requests: `held` stays 0. */
  async setMode(service: string, mode: RouteMode): Promise<void> {
    this.enter('setMode', [service, mode]);
    const clean = parseMode(mode);
    this.route(service).mode = clean;
  }

  async status(service: string): Promise<RouteStatus | undefined> {
    this.enter('status', [service]);
    const r = this.routes.get(service);
    if (!r) return undefined;
    return structuredClone({
      service,
      listen: r.config.listen,
      ...(r.config.preview === undefined ? {} : { preview: r.config.preview }),
      previewRevision: r.previewRevision,
      split: r.split,
      mode: r.mode,
      held: 0,
      backends: [...r.backends.values()],
      revisions: [...r.stats.values()].sort((a, b) => a.revision - b.revision),
    });
  }

  async close(): Promise<void> {
    this.enter('close', []);
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }
}

function emptyStats(revision: number): RevisionStats {
  return {
    revision,
    requests: 0,
    errors: 0,
    latency: {
      bounds: [...LATENCY_BOUNDS_MS],
      counts: new Array<number>(LATENCY_BOUNDS_MS.length + 1).fill(0),
    },
  };
}
