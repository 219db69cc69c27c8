import type { AwsClients } from '../../cloud/aws/clients.js';
import type { CallLog } from '../../cloud/planned.js';
import { DriverError, InputError, NotFoundError } from '../../core/errors.js';
import {
  type Backend,
  BackendState,
  type DrainResult,
  type RevisionSplit,
  type RouteConfig,
  type RouteMode,
  type Router,
  type RouteStatus,
} from '../router.js';
import { parseMode, parsePreviewRevision, parseSplit } from '../validate.js';
import { applyRoute, waitTargetsGone } from './apply.js';
import { AlbRouteBook, intent } from './book.js';
import { ElbApi } from './elb.js';
import { inspectRoute, slotsFromTags } from './inspect.js';
import type { BackendRecord, RouteRecord } from './record.js';
import { type AlbRouteInput, type AlbRouteSettings, parseAlbSettings } from './settings.js';
import { routeStatus } from './status.js';

export interface AlbRouterOptions {
  clients: AwsClients;
  /** Dry run (`baton plan`): target health and tags are read for real, writes recorded here. */
  dryRun?: CallLog | undefined;
  /** Routes to start from (a dry run: the live router's `snapshot()`, so it knows the current targets). */
  routes?: RouteRecord[] | undefined;
  /** Per-service settings when the route does not carry them (`RouteConfig.router` with kind `alb` wins). */
  services?: Record<string, AlbRouteInput> | undefined;
  /**
   * Where Baton's record of routes and targets is kept, read back by a restarted control plane (never
   * written in a dry run); memory only without.
   */
  stateFile?: string | undefined;
}

const D = 'alb';

const ADDRESS = /^(\[[^\]]+\]|[^:\s]*):\d{1,5}$/;

/**
 * Router driver for an Application Load Balancer: each Baton backend is a target (`ip:port`) in the
 * target group of its revision (one of two), and the listener's forward action weighs the two groups —
 * the split of a canary, the switch of a blue-green. New targets take traffic only once ALB's health
 * check passes; draining is ALB's deregistration delay. See README.md for what ALB cannot do here.
 */
export class AlbRouter implements Router {
  readonly kind = 'alb';
  private readonly api: ElbApi;
  private readonly routes = new Map<string, RouteRecord>();
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly opts: AlbRouterOptions) {
    this.api = new ElbApi(opts.clients.elb, opts.clients.caller(D, opts.dryRun));
    this.book = opts.stateFile && !opts.dryRun ? new AlbRouteBook(opts.stateFile) : undefined;
    for (const r of opts.routes ?? this.book?.load() ?? []) this.routes.set(r.service, structuredClone(r));
  }

  private readonly book: AlbRouteBook | undefined;

  /** The record on disk, with `replacing` (a change's intent) in place of its route. */
  private save(replacing?: RouteRecord): void {
    this.book?.save([...this.routes.values()].map((r) => (replacing?.service === r.service ? replacing : r)));
  }

  private get clock() {
    return this.opts.clients.clock;
  }

  /** Changes run one at a time, so two applies never interleave their registrations and weights. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    // The record is saved after each change, failed ones included (then it is unchanged).
    const step = () => fn().finally(() => this.save());
    const run = this.queue.then(step, step);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private route(service: string): RouteRecord {
    const r = this.routes.get(service);
    if (!r) throw new NotFoundError(`route for service ${service}`);
    return r;
  }

  /** Baton's record of every route, for a dry-run router to start from. */
  snapshot(): RouteRecord[] {
    return [...this.routes.values()].map((r) => structuredClone(r));
  }

  /** Where the post-deploy check goes: the listener on the ALB's DNS name. */
  url(service: string): string | undefined {
    return this.routes.get(service)?.url;
  }

  ensureRoute(route: RouteConfig): Promise<void> {
    return this.serial(async () => {
      if (!ADDRESS.test(route.listen))
        throw new InputError(`listen address "${route.listen}" is not host:port`);
      const preview = route.preview ?? undefined;
      if (preview !== undefined) {
        if (!ADDRESS.test(preview)) throw new InputError(`preview address "${preview}" is not host:port`);
        if (preview === route.listen) throw new InputError('the preview address must differ from listen');
      }
      for (const r of this.routes.values()) {
        if (r.service === route.service) continue;
        for (const [mine, theirs] of [
          [route.listen, r.listen],
          [route.listen, r.preview],
          [preview, r.listen],
          [preview, r.preview],
        ])
          if (mine !== undefined && mine === theirs)
            throw new InputError(`address ${mine} is already used by service ${r.service}`);
      }
      const own = route.router as { kind?: string } | undefined;
      const settings = parseAlbSettings(own?.kind === 'alb' ? own : this.opts.services?.[route.service]);
      if (preview !== undefined && !settings.previewListenerArn)
        throw new DriverError(D, 'a preview listener needs previewListenerArn in the alb router settings');
      for (const r of this.routes.values()) {
        if (r.service === route.service) continue;
        const taken = r.settings.targetGroups.find((tg) => settings.targetGroups.includes(tg));
        if (taken) throw new InputError(`target group ${taken} is already used by service ${r.service}`);
      }
      const had = this.routes.get(route.service);
      const where = (x: AlbRouteSettings) =>
        JSON.stringify([x.listenerArn, x.ruleArn, x.targetGroups, x.previewListenerArn]);
      const moved = had !== undefined && where(had.settings) !== where(settings);
      if (moved && had.backends.length > 0)
        throw new InputError(
          `service ${route.service} has targets on its current listener and target groups: stop the service (baton stop) before moving it`,
        );
      const prev = moved ? undefined : had;
      const url = prev?.url ?? (await inspectRoute(this.api, settings));
      const slots = prev?.slots ?? (await slotsFromTags(this.api, route.service, settings));
      this.routes.set(route.service, {
        service: route.service,
        listen: route.listen,
        preview,
        drainTimeoutMs: route.drainTimeoutMs,
        settings,
        url,
        slots,
        split: prev?.split ?? null,
        mode: prev?.mode ?? { kind: 'serve' },
        previewRevision: prev?.previewRevision ?? null,
        backends: prev?.backends ?? [],
        applied: prev?.applied ?? {},
      });
    });
  }

  removeRoute(service: string): Promise<void> {
    return this.serial(async () => {
      const r = this.routes.get(service);
      if (!r) return;
      await this.apply(r, (next) => {
        next.backends = [];
      });
      this.routes.delete(service);
    });
  }

  addBackends(service: string, backends: Backend[], opts?: { standby?: boolean }): Promise<void> {
    return this.serial(async () => {
      const r = this.route(service);
      for (const b of backends) checkAddress(b.address);
      await this.apply(r, (next) =>
        put(next, backends, opts?.standby ? BackendState.Standby : BackendState.Active),
      );
    });
  }

  /**
   * Registers the new set, waits until ALB's health check passes for it, then moves the weights to its
   * target group in one ModifyListener and deregisters every other backend (ALB drains them). Weights
   * change atomically at the ALB; until they do, the old set keeps serving — never neither.
   */
  switchTo(service: string, ids: string[], add: Backend[] = []): Promise<void> {
    return this.serial(async () => {
      const r = this.route(service);
      const adding = new Set(add.map((b) => b.id));
      for (const id of ids)
        if (!adding.has(id) && !r.backends.some((b) => b.id === id))
          throw new NotFoundError(`backend ${id} of service ${service}`);
      for (const b of add) checkAddress(b.address);
      const wanted = new Set(ids);
      await this.apply(r, (next) => {
        put(next, add, BackendState.Active);
        for (const b of next.backends)
          b.state = wanted.has(b.id) ? BackendState.Active : BackendState.Draining;
      });
    });
  }

  drain(service: string, ids: string[]): Promise<void> {
    return this.serial(async () => {
      const r = this.routes.get(service);
      if (!r) return;
      await this.apply(r, (next) => {
        for (const b of next.backends) if (ids.includes(b.id)) b.state = BackendState.Draining;
      });
    });
  }

  /**
   * Waits until ALB no longer lists these targets as `draining` (see `waitTargetsGone`): ALB gives no
   * connection count, so `inFlight` is the number of targets still draining at the timeout, not requests.
   */
  async waitDrained(service: string, ids: string[], timeoutMs: number): Promise<DrainResult> {
    const r = this.routes.get(service);
    const mine = (r?.backends ?? []).filter((b) => ids.includes(b.id));
    if (!r || mine.length === 0 || this.api.dry) return { drained: true, inFlight: 0, waitedMs: 0 };
    const started = this.clock.now();
    const left = await waitTargetsGone(
      this.api,
      this.clock,
      r,
      mine.map((b) => b.address),
      timeoutMs,
    );
    return { drained: left === 0, inFlight: left, waitedMs: this.clock.now() - started };
  }

  /** Deregisters what is still registered (normally drained already) and forgets the backends. */
  removeBackends(service: string, ids: string[]): Promise<void> {
    return this.serial(async () => {
      const r = this.routes.get(service);
      if (!r) return;
      await this.apply(r, (next) => {
        next.backends = next.backends.filter((b) => !ids.includes(b.id));
      });
    });
  }

  /** The control plane's probe verdict: an unhealthy backend is deregistered until it is healthy again. */
  setHealthy(service: string, id: string, healthy: boolean): Promise<void> {
    return this.serial(async () => {
      const r = this.routes.get(service);
      const b = r?.backends.find((x) => x.id === id);
      if (!r || !b || b.healthy === healthy) return;
      await this.apply(r, (next) => {
        const nb = next.backends.find((x) => x.id === id);
        if (nb) nb.healthy = healthy;
      });
    });
  }

  /**
   * The split as the two target groups' weights. `sticky` → ALB target group stickiness (its own
   * cookie). Forced routing (`X-Baton-Revision`) would need listener rules per revision: recorded only.
   */
  setSplit(service: string, split: RevisionSplit | null): Promise<void> {
    return this.serial(async () => {
      const r = this.route(service);
      const clean = parseSplit(split);
      await this.apply(r, (next) => {
        next.split = clean;
      });
    });
  }

  /** Forwards the preview listener to the revision's target group (needs `previewListenerArn`). */
  setPreview(service: string, revision: number | null): Promise<void> {
    return this.serial(async () => {
      const r = this.route(service);
      const rev = parsePreviewRevision(revision);
      if (rev !== null && !r.settings.previewListenerArn)
        throw new DriverError(
          D,
          'preview needs a second listener: set previewListenerArn in the alb router settings (or use router: proxy)',
        );
      await this.apply(r, (next) => {
        next.previewRevision = rev;
      });
    });
  }

  /** `maintenance`: the listener answers a fixed 503 with the page. `hold` is impossible on an ALB. */
  setMode(service: string, mode: RouteMode): Promise<void> {
    return this.serial(async () => {
      const r = this.route(service);
      const clean = parseMode(mode);
      if (clean.kind === 'hold')
        throw new DriverError(
          D,
          'hold mode needs the embedded proxy (router: proxy): an ALB cannot hold requests',
        );
      await this.apply(r, (next) => {
        next.mode = clean;
      });
    });
  }

  async status(service: string): Promise<RouteStatus | undefined> {
    const r = this.routes.get(service);
    return r ? routeStatus(r) : undefined;
  }

  async close(): Promise<void> {
    await this.queue;
  }

  private apply(r: RouteRecord, change: (next: RouteRecord) => void = () => {}): Promise<void> {
    return applyRoute(this.api, this.clock, r, change, (next) => this.save(intent(r, next)));
  }
}

function put(r: RouteRecord, backends: Backend[], state: BackendState): void {
  for (const b of backends) {
    const prev = r.backends.find((x) => x.id === b.id);
    const next: BackendRecord = {
      id: b.id,
      address: b.address,
      revision: b.revision,
      weight: b.weight ?? 1,
      state,
      healthy: prev?.healthy ?? true,
    };
    if (prev) Object.assign(prev, next);
    else r.backends.push(next);
  }
}

function checkAddress(address: string): void {
  if (!ADDRESS.test(address)) throw new InputError(`backend address "${address}" is not host:port`);
}
