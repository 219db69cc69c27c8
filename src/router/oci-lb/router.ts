import type { models } from 'oci-loadbalancer';
import type { OciClients } from '../../cloud/oci/clients.js';
import type { CallLog } from '../../cloud/planned.js';
import { ExternalRouter } from '../external/external-router.js';
import type { BackendRecord } from '../external/record.js';
import { RouteBook } from '../external/route-book.js';
import type { DrainResult, RouteConfig } from '../router.js';
import { applyToModel, deleteChanges, describeChange, type LbChange, routeChanges } from './changes.js';
import { desiredBackends } from './desired.js';
import { LbApi } from './lb.js';
import type { RouteRecord } from './record.js';
import { type HealthChecker, type OciLbRouteInput, parseRouteSettings } from './settings.js';
import { runChanges } from './sync.js';

export interface OciLbRouterOptions {
  clients: OciClients;
  /**
   * Per-service settings when the route does not carry them (`RouteConfig.router` with kind `oci-lb`
   * wins). Absent for a service: `defaults`.
   */
  services?: Record<string, OciLbRouteInput> | undefined;
  defaults?: OciLbRouteInput | undefined;
  /** Health checker of backend sets Baton creates when the settings name none (wiring: from the probe). */
  healthChecker?: ((service: string) => HealthChecker) | undefined;
  /** Where Baton's record of routes and backends is kept (OCI backends carry no tags); memory only without. */
  stateFile?: string | undefined;
  /**
   * Dry run (`baton plan`): reads go to OCI (the load balancer, its backend sets and backends are found
   * for real), changes are recorded here instead of sent, health and drain waits are recorded, not waited.
   */
  dryRun?: CallLog | undefined;
  /** Between two reads of a work request (default 1 s). */
  workRequestPollMs?: number | undefined;
}

/**
 * Router driver for an OCI Load Balancer: each Baton backend is one OCI backend (`privateIp:port`) per
 * configured backend set; states are OCI's `drain` and `offline` flags, a split is backend weights. Every
 * change waits for its work request; new backends take part only once OCI's health check says OK. See
 * README.md for what OCI cannot do (connection counts, atomic switch, preview, hold). Status comes from
 * the record: OCI gives no per-backend counters here (0; latency has no bounds).
 */
export class OciLbRouter extends ExternalRouter<BackendRecord, RouteRecord> {
  readonly kind = 'oci-lb';
  private readonly api: LbApi;
  /** Dry run: the load balancers as they will be after the planned changes. */
  private readonly planned = new Map<string, models.LoadBalancer>();

  constructor(private readonly opts: OciLbRouterOptions) {
    super(new RouteBook({ driver: 'oci-lb', file: opts.stateFile, readOnly: opts.dryRun !== undefined }), {
      previewListener: 'preview listeners need the embedded proxy (router: proxy)',
      preview: () =>
        'preview needs the embedded proxy (router: proxy): this driver serves no preview listener on the OCI load balancer',
      hold: 'hold mode needs the embedded proxy (router: proxy): an OCI load balancer cannot hold requests',
    });
    this.api = new LbApi(opts.clients.loadBalancer, opts.clients.clock, opts.workRequestPollMs ?? 1000);
  }

  private get clock() {
    return this.opts.clients.clock;
  }

  /** One queue for every route: OCI runs one work request per load balancer at a time anyway. */
  protected override queueKey(): string {
    return 'oci-lb';
  }

  ensureRoute(route: RouteConfig): Promise<void> {
    return this.serial(route.service, async () => {
      this.checkRoute(route);
      const fromRoute = (route as { router?: { kind?: string } }).router;
      const settings = parseRouteSettings(
        fromRoute?.kind === 'oci-lb'
          ? fromRoute
          : (this.opts.services?.[route.service] ?? this.opts.defaults),
      );
      const prev = this.book.get(route.service);
      const next: RouteRecord = {
        service: route.service,
        listen: route.listen,
        drainTimeoutMs: route.drainTimeoutMs,
        settings,
        loadBalancerId: prev?.loadBalancerId ?? (await this.api.find(settings)),
        split: prev?.split ?? null,
        mode: prev?.mode ?? { kind: 'serve' },
        backends: prev?.backends ?? [],
      };
      await this.execute(next, await this.missingBackendSets(next));
      this.book.set(next);
    });
  }

  /** deploy-inst's TODO: backend sets that do not exist are created, with a health checker. */
  private async missingBackendSets(r: RouteRecord): Promise<LbChange[]> {
    const lb = await this.loadBalancer(r.loadBalancerId);
    const s = r.settings;
    const wanted = new Set((s.backends ?? [{ backendSet: r.service }]).map((b) => b.backendSet));
    const hc = s.healthChecker ??
      this.opts.healthChecker?.(r.service) ?? { protocol: 'TCP' as const, port: 0 };
    return [...wanted]
      .filter((name) => !lb.backendSets?.[name])
      .map((name) => ({ kind: 'create-backend-set', name, policy: s.policy, healthChecker: hc }));
  }

  /** Runs the changes, or records them in a dry run (and applies them to its picture of the LB). */
  private async execute(r: RouteRecord, changes: LbChange[]): Promise<void> {
    const log = this.opts.dryRun;
    if (!log) {
      // What Baton wants is on disk before OCI is asked: OCI backends carry no tags, so a backend created
      // by a control plane that died before the change ended would otherwise be unknown to the next one.
      if (changes.length) this.book.save();
      return runChanges(this.api, this.clock, r, changes);
    }
    const lb = await this.loadBalancer(r.loadBalancerId);
    for (const c of changes) {
      log.add(describeChange(r.loadBalancerId, c, r.settings.healthTimeout));
      applyToModel(lb, c);
    }
  }

  /** The load balancer as OCI has it; in a dry run, as it will be after what was planned so far. */
  private async loadBalancer(id: string): Promise<models.LoadBalancer> {
    if (!this.opts.dryRun) return this.api.get(id);
    const known = this.planned.get(id);
    if (known) return known;
    const lb = structuredClone(await this.api.get(id));
    this.planned.set(id, lb);
    return lb;
  }

  /**
   * Serving backends first, then a wait until OCI's health check says OK for each that just started
   * serving, then the others (drain, offline). So `switchTo` is not atomic on OCI: in between both sets
   * take new connections — never neither.
   */
  protected async update(r: RouteRecord, edit: (next: RouteRecord) => void): Promise<void> {
    edit(r);
    await this.execute(r, routeChanges(await this.loadBalancer(r.loadBalancerId), r));
  }

  removeRoute(service: string): Promise<void> {
    return this.serial(service, async () => {
      const r = this.book.get(service);
      if (!r) return;
      await this.execute(r, deleteChanges(desiredBackends(r)));
      this.book.delete(service);
    });
  }

  /**
   * OCI's API reports no connection count per backend, so this cannot see connections end: it waits the
   * route's `drainPeriod` (deploy-inst waited 10 s) after the drain, bounded by `timeoutMs`, and reports
   * `drained: true` only when the whole period passed. `inFlight` is 0 because it is unknown.
   */
  async waitDrained(service: string, ids: string[], timeoutMs: number): Promise<DrainResult> {
    const r = this.book.get(service);
    if (!r?.backends.some((b) => ids.includes(b.id))) return { drained: true, inFlight: 0, waitedMs: 0 };
    const wait = Math.min(r.settings.drainPeriod, timeoutMs);
    if (this.opts.dryRun) {
      this.opts.dryRun.add({
        op: 'Wait',
        awaits: `drain period ${wait} ms (OCI reports no connection counts)`,
      });
      return { drained: true, inFlight: 0, waitedMs: 0 };
    }
    const started = this.clock.now();
    await this.clock.sleep(wait);
    return { drained: wait >= r.settings.drainPeriod, inFlight: 0, waitedMs: this.clock.now() - started };
  }

  /** Deletes their OCI backends (each waiting for its work request); OCI closes what is still open. */
  removeBackends(service: string, ids: string[]): Promise<void> {
    return this.serial(service, async () => {
      const r = this.book.get(service);
      if (!r) return;
      await this.execute(r, deleteChanges(desiredBackends(r).filter((d) => ids.includes(d.owner.id))));
      r.backends = r.backends.filter((b) => !ids.includes(b.id));
    });
  }
}
