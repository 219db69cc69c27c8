import { NotFoundError } from '../../core/errors.js';
import {
  type Backend,
  BackendState,
  type CertificateStats,
  type RevisionSplit,
  type RouteConfig,
  type RouteLimits,
  type RouteMode,
  type RouteStatus,
  type RouteTls,
  type UpstreamProtocol,
} from '../router.js';
import { defaultMaintenanceBody } from '../validate.js';
import { BackendEntry } from './backend.js';
import type { CertWatcher } from './certs.js';
import { LATENCY_BOUNDS_MS, ListenerCounters, RevisionCounters } from './histogram.js';
import { HoldQueue } from './hold.js';
import { KEEP_ALIVE_TIMEOUT_MS } from './keep-alive.js';
import { routeLimits } from './limits.js';
import { normalPrefix } from './match.js';
import { ANY, PREVIEW, SplitPlan } from './split.js';

const NONE: BackendEntry[] = [];

/**
 * A service's backend table. Every change is one synchronous update, so a request sees either the old
 * table or the new one (that is what makes `switchTo` atomic). The listeners live elsewhere.
 */
export class ServiceTable {
  readonly service: string;
  listen: string;
  drainTimeoutMs: number;
  /** Idle timeout of client keep-alive connections on this route's listeners. */
  keepAliveTimeoutMs: number;
  /** host:port of the preview listener, if any. */
  preview: string | undefined;
  /** Every backend, in insertion order; replaced (not mutated) on add and remove. */
  list: BackendEntry[] = [];
  readonly byId = new Map<string, BackendEntry>();
  /** Backends per revision, rebuilt with `list`. */
  private byRevision = new Map<number, BackendEntry[]>();
  readonly revisions = new Map<number, RevisionCounters>();
  /** Connections of the main and the preview listener (kept across a listener's replacement). */
  readonly connections = { main: new ListenerCounters(), preview: new ListenerCounters() };
  split: SplitPlan | undefined;
  previewRevision: number | null = null;
  mode: RouteMode = { kind: 'serve' };
  /** Body of maintenance answers, computed when the mode is set. */
  maintenanceBody = '';
  /** Requests (and upgrades) waiting while the mode is `hold`. */
  readonly held = new HoldQueue();
  /** Timeouts and sizes (defaults filled in); `given` is what the route said, for the snapshot. */
  limits: RouteLimits;
  given: Partial<RouteLimits> | undefined;
  /** Names on a shared listener (empty: the listener's default) and path prefix (see match.ts). */
  hosts: string[] = [];
  pathPrefix = '/';
  tls: RouteTls[] | undefined;
  redirectHttp = false;
  /** Protocol to the instances (`h2c`: HTTP/2 in clear text, h2c-exchange.ts). */
  upstream: UpstreamProtocol = 'http1';
  /** The loaded certificates of `tls` (set by the proxy that holds the listener). */
  certs: CertWatcher[] = [];

  constructor(route: RouteConfig) {
    this.service = route.service;
    this.listen = route.listen;
    this.drainTimeoutMs = route.drainTimeoutMs;
    this.keepAliveTimeoutMs = route.keepAliveTimeoutMs ?? KEEP_ALIVE_TIMEOUT_MS;
    this.preview = route.preview;
    this.given = route.limits;
    this.limits = routeLimits(route.limits);
    this.setClaim(route);
  }

  /** Hosts, prefix and TLS files of the route (the caller checked them against the listener). */
  setClaim(route: RouteConfig): void {
    this.hosts = (route.hosts ?? []).map((h) => h.toLowerCase());
    this.pathPrefix = normalPrefix(route.pathPrefix);
    // The proxy driver resolves `auto` to files before the route reaches a proxy.
    this.tls = route.tls === 'auto' ? [] : route.tls;
    this.redirectHttp = route.tls !== undefined && route.redirectHttp !== false;
    this.upstream = route.upstream ?? 'http1';
  }

  setLimits(given: Partial<RouteLimits> | undefined): void {
    this.given = given;
    this.limits = routeLimits(given);
  }

  setSplit(split: RevisionSplit | null): void {
    this.split = split === null ? undefined : new SplitPlan(this.service, split);
  }

  /** Sets the mode and returns the previous one (the caller releases held requests). */
  setMode(mode: RouteMode): RouteMode {
    const prev = this.mode;
    this.mode = mode;
    if (mode.kind === 'maintenance') this.maintenanceBody = mode.body ?? defaultMaintenanceBody(this.service);
    return prev;
  }

  /**
   * Least open requests per unit of weight among active, healthy backends; ties are broken by smooth
   * weighted round-robin, so sequential traffic follows the weights too. `exclude` holds backends that
   * already failed this request.
   */
  pick(now: number, exclude: BackendEntry[] | undefined): BackendEntry | undefined {
    return best(this.list, now, exclude, false);
  }

  /** Like `pick`, among one revision's backends. */
  pickRevision(revision: number, now: number, exclude: BackendEntry[] | undefined): BackendEntry | undefined {
    return best(this.byRevision.get(revision) ?? NONE, now, exclude, false);
  }

  /** Among the preview revision's healthy backends, active or standby (not draining). */
  pickPreview(now: number, exclude: BackendEntry[] | undefined): BackendEntry | undefined {
    const r = this.previewRevision;
    return r === null ? undefined : best(this.byRevision.get(r) ?? NONE, now, exclude, true);
  }

  /**
   * `ANY`: any active backend; `PREVIEW`: the preview set; a revision: that revision's active backends,
   * or any active backend when it has none (never a 503 while something healthy is active).
   */
  pickFor(target: number, now: number, exclude: BackendEntry[] | undefined): BackendEntry | undefined {
    if (target === ANY) return this.pick(now, exclude);
    if (target === PREVIEW) return this.pickPreview(now, exclude);
    return this.pickRevision(target, now, exclude) ?? this.pick(now, exclude);
  }

  counters(revision: number): RevisionCounters {
    let c = this.revisions.get(revision);
    if (c === undefined) {
      c = new RevisionCounters(revision);
      this.revisions.set(revision, c);
    }
    return c;
  }

  /** Adds backends or updates known ones; all of them become active (standby with `standby`). */
  add(backends: Backend[], standby = false): void {
    const state = standby ? BackendState.Standby : BackendState.Active;
    const list = this.list.slice();
    for (const b of backends) {
      const existing = this.byId.get(b.id);
      if (existing) {
        existing.update(b);
        existing.state = state;
      } else {
        const e = new BackendEntry(b, () => this.limits);
        e.state = state;
        this.byId.set(b.id, e);
        list.push(e);
      }
      this.counters(b.revision);
    }
    this.setList(list);
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
    this.setList(this.list.filter((b) => this.byId.has(b.id)));
    for (const r of this.revisions.keys()) if (!this.byRevision.has(r)) this.revisions.delete(r);
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
      ...(this.preview === undefined ? {} : { preview: this.preview }),
      previewRevision: this.previewRevision,
      split: this.split?.split ?? null,
      mode: this.mode,
      held: this.held.size,
      backends: this.list.map((b) => b.status(now)),
      revisions: [...this.revisions.values()]
        .sort((a, b) => a.revision - b.revision)
        .map((c) => ({
          revision: c.revision,
          requests: c.requests,
          errors: c.errors,
          latency: { bounds: [...LATENCY_BOUNDS_MS], counts: [...c.counts], sumMs: c.sumMs },
          classes: [...c.classes],
          connectErrors: c.connectErrors,
          retries: c.retries,
        })),
      listeners: [
        {
          role: 'main' as const,
          address: this.listen,
          ...(this.tls === undefined ? {} : { tls: true }),
          ...this.connections.main,
        },
        ...(this.preview === undefined
          ? []
          : [{ role: 'preview' as const, address: this.preview, ...this.connections.preview }]),
      ],
      ...(this.certs.length === 0 ? {} : { certificates: certificateStats(this.certs) }),
    };
  }

  private setList(list: BackendEntry[]): void {
    const byRevision = new Map<number, BackendEntry[]>();
    for (const b of list) {
      const same = byRevision.get(b.revision);
      if (same) same.push(b);
      else byRevision.set(b.revision, [b]);
    }
    this.list = list;
    this.byRevision = byRevision;
  }
}

/**
 * Least open requests per unit of weight among eligible backends of `list`, ties broken by smooth
 * weighted round-robin. Production: active only; preview: active or standby.
 */
function best(
  list: BackendEntry[],
  now: number,
  exclude: BackendEntry[] | undefined,
  preview: boolean,
): BackendEntry | undefined {
  let min = Number.POSITIVE_INFINITY;
  for (let i = 0; i < list.length; i++) {
    const b = list[i]!;
    if (!eligible(b, now, exclude, preview)) continue;
    const score = b.open() / b.weight;
    if (score < min) min = score;
  }
  if (min === Number.POSITIVE_INFINITY) return undefined;
  let total = 0;
  let chosen: BackendEntry | undefined;
  for (let i = 0; i < list.length; i++) {
    const b = list[i]!;
    if (!eligible(b, now, exclude, preview) || b.open() / b.weight !== min) continue;
    b.current += b.weight;
    total += b.weight;
    if (chosen === undefined || b.current > chosen.current) chosen = b;
  }
  chosen!.current -= total;
  return chosen;
}

function eligible(
  b: BackendEntry,
  now: number,
  exclude: BackendEntry[] | undefined,
  preview: boolean,
): boolean {
  return (
    (b.state === BackendState.Active || (preview && b.state === BackendState.Standby)) &&
    b.weight > 0 &&
    b.isHealthy(now) &&
    (exclude === undefined || !exclude.includes(b))
  );
}

/** The loaded certificates of a route, for its status (and the certificate expiry metric). */
function certificateStats(certs: CertWatcher[]): CertificateStats[] {
  return certs.flatMap((c) =>
    c.leaf === undefined
      ? []
      : [
          {
            file: c.files.cert,
            names: (c.leaf.subjectAltName ?? '')
              .split(', ')
              .filter((n) => n.startsWith('DNS:'))
              .map((n) => n.slice(4)),
            notAfter: new Date(c.leaf.validTo).toISOString(),
          },
        ],
  );
}
