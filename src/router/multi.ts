import type { Logger } from 'pino';
import { InputError } from '../core/errors.js';
import type { RouterSpec } from '../spec/router.js';
import type {
  Backend,
  DrainResult,
  RevisionSplit,
  RouteConfig,
  RouteMode,
  Router,
  RouteStatus,
} from './router.js';

const PROXY: RouterSpec = { kind: 'proxy' };
/** Reconcile problems are logged again at most this often while they last. */
const WARN_EVERY_MS = 60_000;

interface Made {
  router: Router;
  spec: RouterSpec;
  nextReconcileAt: number;
  lastWarnAt: number;
}

export interface MultiRouterOptions {
  make: (spec: RouterSpec) => Router;
  /** Which driver instance a spec belongs to (see `routerKey`). */
  key: (spec: RouterSpec) => string;
  logger?: Logger;
}

/**
 * One Router over several: each service is carried by the router its spec names (`traffic.router`),
 * learned from `ensureRoute` (every deploy starts with it) or from `bind` (the daemon binds the serving
 * revisions at start, so supervision and status reach the right driver before any deploy). Drivers are
 * created on first need, so a machine without HAProxy runs proxy services with no error. A service
 * keeps its router while it has backends: moving it to another one needs `baton stop` first, because no
 * switch can be atomic across two load balancers.
 */
export class MultiRouter implements Router {
  readonly kind = 'multi';
  private readonly made = new Map<string, Made>();
  private readonly bound = new Map<string, string>();

  constructor(private readonly opts: MultiRouterOptions) {}

  private use(spec: RouterSpec): Made {
    const key = this.opts.key(spec);
    let m = this.made.get(key);
    if (!m) {
      m = { router: this.opts.make(spec), spec, nextReconcileAt: 0, lastWarnAt: 0 };
      this.made.set(key, m);
    }
    // The latest spec wins for fleet-wide settings (reconcile interval).
    m.spec = spec;
    return m;
  }

  /** Routes `service` through the router of `spec` (the daemon calls it for the serving revisions). */
  bind(service: string, spec: RouterSpec = PROXY): void {
    this.use(spec);
    this.bound.set(service, this.opts.key(spec));
  }

  private of(service: string): Router {
    const m = this.made.get(this.bound.get(service) ?? this.opts.key(PROXY));
    return (m ?? this.use(PROXY)).router;
  }

  async ensureRoute(route: RouteConfig): Promise<void> {
    const spec = route.router ?? PROXY;
    const key = this.opts.key(spec);
    const prevKey = this.bound.get(route.service);
    if (prevKey !== undefined && prevKey !== key) {
      const prev = this.made.get(prevKey)!;
      const status = await prev.router.status(route.service);
      if (status && status.backends.length > 0)
        throw new InputError(
          `service ${route.service} is served through router ${prev.spec.kind} (${status.backends.length} backend(s)); to move it to ${spec.kind}, stop it first (baton stop ${route.service}) — no switch is atomic across two load balancers`,
        );
      await prev.router.removeRoute(route.service);
    }
    await this.use(spec).router.ensureRoute(route);
    this.bound.set(route.service, key);
  }

  async removeRoute(service: string): Promise<void> {
    await this.of(service).removeRoute(service);
  }

  addBackends(service: string, backends: Backend[], opts?: { standby?: boolean }): Promise<void> {
    return this.of(service).addBackends(service, backends, opts);
  }

  switchTo(service: string, ids: string[], add?: Backend[]): Promise<void> {
    return this.of(service).switchTo(service, ids, add);
  }

  drain(service: string, ids: string[]): Promise<void> {
    return this.of(service).drain(service, ids);
  }

  waitDrained(service: string, ids: string[], timeoutMs: number): Promise<DrainResult> {
    return this.of(service).waitDrained(service, ids, timeoutMs);
  }

  removeBackends(service: string, ids: string[]): Promise<void> {
    return this.of(service).removeBackends(service, ids);
  }

  setHealthy(service: string, id: string, healthy: boolean): Promise<void> {
    return this.of(service).setHealthy(service, id, healthy);
  }

  setSplit(service: string, split: RevisionSplit | null): Promise<void> {
    return this.of(service).setSplit(service, split);
  }

  setPreview(service: string, revision: number | null): Promise<void> {
    return this.of(service).setPreview(service, revision);
  }

  setMode(service: string, mode: RouteMode): Promise<void> {
    return this.of(service).setMode(service, mode);
  }

  status(service: string): Promise<RouteStatus | undefined> {
    return this.of(service).status(service);
  }

  /**
   * Runs each driver's `reconcile` when its interval (`traffic.router.reconcileInterval`) is due and logs
   * what it found: servers it had to put back (warn), a reload that needed nothing (info), or why an
   * instance could not be reached.
   */
  async reconcile(now = Date.now()): Promise<void> {
    await Promise.all(
      [...this.made.values()].map(async (m) => {
        if (!m.router.reconcile || now < m.nextReconcileAt) return;
        m.nextReconcileAt = now + ('reconcileInterval' in m.spec ? m.spec.reconcileInterval : 0);
        const reports = (await m.router
          .reconcile()
          .catch((e: unknown) => [{ error: (e as Error).message }])) as Array<{
          socket?: string;
          reloaded?: boolean;
          restored?: object;
          error?: string;
        }>;
        for (const r of reports ?? []) {
          const restored = Object.keys(r.restored ?? {}).length > 0;
          if (restored)
            this.opts.logger?.warn(
              { router: m.spec.kind, socket: r.socket, reloaded: r.reloaded, restored: r.restored },
              'load balancer lost Baton servers or changed them (a reload without the server-state file?): re-applied them',
            );
          else if (r.reloaded)
            this.opts.logger?.info(
              { router: m.spec.kind, socket: r.socket },
              'load balancer reloaded with every Baton server as recorded: nothing to repair',
            );
          if (r.error && now - m.lastWarnAt >= WARN_EVERY_MS) {
            m.lastWarnAt = now;
            this.opts.logger?.warn(
              { router: m.spec.kind, socket: r.socket, err: r.error },
              'cannot reconcile the load balancer; retrying',
            );
          }
        }
      }),
    );
  }

  async close(): Promise<void> {
    await Promise.all([...this.made.values()].map((m) => m.router.close()));
  }
}
