import { DriverError, InputError, NotFoundError } from '../../core/errors.js';
import { KeyedQueue } from '../../core/keyed-queue.js';
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
import { type BackendRecord, checkAddress, putBackends, type RouteRecordBase } from './record.js';
import { recordStatus } from './record-status.js';
import type { RouteBook } from './route-book.js';

/** What a driver cannot do, each as the error a caller gets when asking for it. */
export interface ExternalLimits<R> {
  /** A preview listener in `RouteConfig.preview` (undefined: the driver checks it itself). */
  previewListener?: string | undefined;
  /** `setPreview(n)` for this route; undefined when it can. `setPreview(null)` is always accepted. */
  preview: (r: R) => string | undefined;
  /** `setMode({kind: 'hold'})`. */
  hold: string;
}

/**
 * What the external routers (haproxy, oci-lb, alb) share: the route book, one serial queue per route,
 * the route and address checks, the backend-state edits of the Router interface, split/preview/mode
 * parsing and the errors for what a load balancer cannot do. A driver says how a route is created and
 * removed, and how an edited record reaches its load balancer (`update`).
 */
export abstract class ExternalRouter<B extends BackendRecord, R extends RouteRecordBase<B>>
  implements Router
{
  abstract readonly kind: string;
  private readonly queue = new KeyedQueue();

  protected constructor(
    protected readonly book: RouteBook<R>,
    private readonly limits: ExternalLimits<R>,
  ) {}

  abstract ensureRoute(route: RouteConfig): Promise<void>;
  abstract removeRoute(service: string): Promise<void>;
  abstract waitDrained(service: string, ids: string[], timeoutMs: number): Promise<DrainResult>;
  abstract removeBackends(service: string, ids: string[]): Promise<void>;

  /** Applies `edit` to the route's record and brings the load balancer to it. */
  protected abstract update(r: R, edit: (next: R) => void): Promise<void>;

  /** Which queue a route's changes wait in (default: its own; a driver may share one). */
  protected queueKey(service: string): string {
    return service;
  }

  /** After every change, failed ones included: the record is written (it holds what Baton wants). */
  protected saved(): void {
    this.book.save();
  }

  /** Runs a change of one route after the earlier ones of that route; other routes run side by side. */
  protected serial<T>(service: string, fn: () => Promise<T>): Promise<T> {
    return this.queue.run(this.queueKey(service), () =>
      fn().finally(() => {
        this.book.settle(service);
        this.saved();
      }),
    );
  }

  protected route(service: string): R {
    const r = this.book.get(service);
    if (!r) throw new NotFoundError(`route for service ${service}`);
    return r;
  }

  /** Backend addresses, checked before anything changes. */
  protected async checkBackends(backends: Backend[]): Promise<void> {
    for (const b of backends) checkAddress(b.address);
  }

  /**
   * What every `ensureRoute` checks first: listen (and preview) are `host:port` and differ, a preview
   * listener is one the driver has, and no other route uses either address.
   */
  protected checkRoute(route: RouteConfig): void {
    checkAddress(route.listen, 'listen address');
    const preview = route.preview ?? undefined;
    if (preview !== undefined) {
      if (this.limits.previewListener) throw new DriverError(this.kind, this.limits.previewListener);
      checkAddress(preview, 'preview address');
      if (preview === route.listen) throw new InputError('the preview address must differ from listen');
    }
    for (const r of this.book.all()) {
      if (r.service === route.service) continue;
      const theirs = [r.listen, (r as { preview?: string }).preview];
      for (const mine of [route.listen, preview])
        if (mine !== undefined && theirs.includes(mine))
          throw new InputError(
            `${mine === route.listen ? 'listen address' : 'address'} ${mine} is already used by service ${r.service}`,
          );
    }
  }

  addBackends(service: string, backends: Backend[], opts?: { standby?: boolean }): Promise<void> {
    return this.serial(service, async () => {
      const r = this.route(service);
      await this.checkBackends(backends);
      const state = opts?.standby ? BackendState.Standby : BackendState.Active;
      await this.update(r, (next) => putBackends(next, backends, state));
    });
  }

  switchTo(service: string, ids: string[], add: Backend[] = []): Promise<void> {
    return this.serial(service, async () => {
      const r = this.route(service);
      const adding = new Set(add.map((b) => b.id));
      for (const id of ids)
        if (!adding.has(id) && !r.backends.some((b) => b.id === id))
          throw new NotFoundError(`backend ${id} of service ${service}`);
      await this.checkBackends(add);
      const wanted = new Set(ids);
      await this.update(r, (next) => {
        putBackends(next, add, BackendState.Active);
        for (const b of next.backends)
          b.state = wanted.has(b.id) ? BackendState.Active : BackendState.Draining;
      });
    });
  }

  drain(service: string, ids: string[]): Promise<void> {
    return this.serial(service, async () => {
      const r = this.book.get(service);
      if (!r) return;
      await this.update(r, (next) => {
        for (const b of next.backends) if (ids.includes(b.id)) b.state = BackendState.Draining;
      });
    });
  }

  /** The control plane's probe verdict: an unhealthy backend gets no traffic until it is healthy again. */
  setHealthy(service: string, id: string, healthy: boolean): Promise<void> {
    return this.serial(service, async () => {
      const r = this.book.get(service);
      const b = r?.backends.find((x) => x.id === id);
      if (!r || !b || b.healthy === healthy) return;
      await this.update(r, (next) => {
        const nb = next.backends.find((x) => x.id === id);
        if (nb) nb.healthy = healthy;
      });
    });
  }

  /** The split as the load balancer's weights; stickiness and forced routing as far as it goes. */
  setSplit(service: string, split: RevisionSplit | null): Promise<void> {
    return this.serial(service, async () => {
      const r = this.route(service);
      const clean = parseSplit(split);
      await this.update(r, (next) => {
        next.split = clean;
      });
    });
  }

  /** Where the driver has no preview for the route, only `null` (no preview) is accepted. */
  setPreview(service: string, revision: number | null): Promise<void> {
    return this.serial(service, async () => {
      const r = this.route(service);
      const rev = parsePreviewRevision(revision);
      const why = this.limits.preview(r);
      if (why === undefined)
        return this.update(r, (next) => {
          next.previewRevision = rev;
        });
      if (rev !== null) throw new DriverError(this.kind, why);
    });
  }

  /** `maintenance` and `serve` as the driver can; `hold` cannot be done by a load balancer. */
  setMode(service: string, mode: RouteMode): Promise<void> {
    return this.serial(service, async () => {
      const r = this.route(service);
      const clean = parseMode(mode);
      if (clean.kind === 'hold') throw new DriverError(this.kind, this.limits.hold);
      await this.update(r, (next) => {
        next.mode = clean;
      });
    });
  }

  /** From the record; a driver with counters overrides it. */
  async status(service: string): Promise<RouteStatus | undefined> {
    const r = this.book.get(service);
    return r ? recordStatus(r) : undefined;
  }

  async close(): Promise<void> {
    await this.queue.idle();
  }
}
