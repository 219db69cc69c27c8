import type { AwsClients } from '../../cloud/aws/clients.js';
import type { CallLog } from '../../cloud/planned.js';
import { DriverError, InputError } from '../../core/errors.js';
import { ExternalRouter } from '../external/external-router.js';
import { recordStatus } from '../external/record-status.js';
import { RouteBook } from '../external/route-book.js';
import type { DrainResult, RouteConfig, RouteStatus } from '../router.js';
import { applyRoute, waitTargetsGone } from './apply.js';
import { intent } from './book.js';
import { ElbApi } from './elb.js';
import { inspectRoute, slotsFromTags } from './inspect.js';
import type { BackendRecord, RouteRecord } from './record.js';
import { type AlbRouteInput, type AlbRouteSettings, parseAlbSettings } from './settings.js';

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

/**
 * Router driver for an Application Load Balancer: each Baton backend is a target (`ip:port`) in the
 * target group of its revision (one of two), and the listener's forward action weighs the two groups —
 * the split of a canary, the switch of a blue-green. New targets take traffic only once ALB's health
 * check passes; draining is ALB's deregistration delay. See README.md for what ALB cannot do here.
 * Routes change side by side (each owns its listener action and target groups).
 */
export class AlbRouter extends ExternalRouter<BackendRecord, RouteRecord> {
  readonly kind = 'alb';
  private readonly api: ElbApi;

  constructor(private readonly opts: AlbRouterOptions) {
    super(
      new RouteBook<RouteRecord>({
        driver: D,
        file: opts.stateFile,
        readOnly: opts.dryRun !== undefined,
        routes: opts.routes,
        // The listener actions last applied are not trusted after a restart: the next change resends them.
        revive: (r) => ({ ...r, applied: {} }),
      }),
      {
        preview: (r) =>
          r.settings.previewListenerArn
            ? undefined
            : 'preview needs a second listener: set previewListenerArn in the alb router settings (or use router: proxy)',
        hold: 'hold mode needs the embedded proxy (router: proxy): an ALB cannot hold requests',
      },
    );
    this.api = new ElbApi(opts.clients.elb, opts.clients.caller(D, opts.dryRun));
  }

  private get clock() {
    return this.opts.clients.clock;
  }

  /** Baton's record of every route, for a dry-run router to start from. */
  snapshot(): RouteRecord[] {
    return this.book.all().map((r) => structuredClone(r));
  }

  /** Where the post-deploy check goes: the listener on the ALB's DNS name. */
  url(service: string): string | undefined {
    return this.book.get(service)?.url;
  }

  ensureRoute(route: RouteConfig): Promise<void> {
    return this.serial(route.service, async () => {
      this.checkRoute(route);
      const preview = route.preview ?? undefined;
      const own = route.router as { kind?: string } | undefined;
      const settings = parseAlbSettings(own?.kind === 'alb' ? own : this.opts.services?.[route.service]);
      if (preview !== undefined && !settings.previewListenerArn)
        throw new DriverError(D, 'a preview listener needs previewListenerArn in the alb router settings');
      for (const r of this.book.all()) {
        if (r.service === route.service) continue;
        const taken = r.settings.targetGroups.find((tg) => settings.targetGroups.includes(tg));
        if (taken) throw new InputError(`target group ${taken} is already used by service ${r.service}`);
      }
      const had = this.book.get(route.service);
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
      this.book.set({
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
    return this.serial(service, async () => {
      const r = this.book.get(service);
      if (!r) return;
      await this.update(r, (next) => {
        next.backends = [];
      });
      this.book.delete(service);
    });
  }

  /**
   * Waits until ALB no longer lists these targets as `draining` (see `waitTargetsGone`): ALB gives no
   * connection count, so `inFlight` is the number of targets still draining at the timeout, not requests.
   */
  async waitDrained(service: string, ids: string[], timeoutMs: number): Promise<DrainResult> {
    const r = this.book.get(service);
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
    return this.serial(service, async () => {
      const r = this.book.get(service);
      if (!r) return;
      await this.update(r, (next) => {
        next.backends = next.backends.filter((b) => !ids.includes(b.id));
      });
    });
  }

  /**
   * From the record (ALB accepted each change). ALB's per-target counts live in CloudWatch, not in the
   * ELBv2 API: counters are 0 and latency has no bounds, so a canary's analysis gets no signal here yet.
   */
  override async status(service: string): Promise<RouteStatus | undefined> {
    const r = this.book.get(service);
    return r ? recordStatus(r, undefined, r.preview !== undefined ? { preview: r.preview } : {}) : undefined;
  }

  /**
   * Registers the new set, waits until ALB's health check passes for it, then moves the weights in one
   * ModifyListener and deregisters the rest (ALB drains them): a switch is atomic at the ALB; until it
   * happens, the old set keeps serving — never neither. The split is the two groups' weights (`sticky`:
   * ALB target group stickiness); forced routing would need listener rules per revision: recorded only.
   * Computed on a copy, committed only when every call succeeded; the intent is on disk meanwhile.
   */
  protected update(r: RouteRecord, edit: (next: RouteRecord) => void): Promise<void> {
    return applyRoute(this.api, this.clock, r, edit, (next) => this.book.save(intent(r, next)));
  }
}
