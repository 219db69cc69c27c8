import { mkdir } from 'node:fs/promises';
import type { Server } from 'node:http';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import pino, { type Logger } from 'pino';
import { DriverError, InputError, NotFoundError } from '../../core/errors.js';
import type { Backend, DrainResult, RevisionSplit, RouteConfig, RouteMode, RouteStatus } from '../router.js';
import { checkPreviewAddress } from '../validate.js';
import { adminServer } from './admin.js';
import type { BackendEntry } from './backend.js';
import { ChangeQueue } from './change-queue.js';
import { Doors } from './doors.js';
import { DrainWaiters } from './drain-waiters.js';
import { Fleet } from './fleet.js';
import { releaseHeld } from './front.js';
import { AdminSocket } from './handoff/admin-socket.js';
import { type Behind, bothDrained } from './handoff/behind.js';
import { CarriedCounters } from './handoff/carry.js';
import { closeUnused, forgetInherited, inheritedFds } from './handoff/inherit.js';
import { type HandoffCall, type HandoffStep, handOver, successorArgs } from './handoff/predecessor.js';
import { handedOffError } from './handoff/protocol.js';
import type { Successor } from './handoff/successor.js';
import { validChallengeToken } from './http-duty.js';
import { KEEP_ALIVE_TIMEOUT_MS, setKeepAlive } from './keep-alive.js';
import { applyEdgeLimits } from './limits.js';
import { closeListener, openListener } from './listener.js';
import { applyChange, type Change, type Changes } from './ops.js';
import { type ProxyPaths, parseListen, proxyPaths } from './paths.js';
import type { DataPlane } from './plane.js';
import { openRestored } from './restored-listener.js';
import { ServiceTable } from './service.js';
import { loadSnapshot, type Snapshot, snapshotOf, tableFrom } from './snapshot.js';
import { retireServing, type Serving, stopServing } from './stop.js';

export interface ProxyServerOptions {
  dataDir: string;
  /** Defaults to a silent logger. */
  logger?: Logger;
  /** Bound on finishing in-flight requests at shutdown (default 10 s). */
  shutdownTimeoutMs?: number;
  /** How long a connection failure keeps a backend out of rotation (default 3 s). */
  passiveUnhealthyMs?: number;
  /**
   * Worker processes serving the data path (see `fleet.ts`); 0 (the default) serves it in this process.
   */
  workers?: number;
  /** The workers' entry script; defaults to `worker.js` next to this module. */
  workerEntry?: string;
  /** The workers' log level (default info). */
  logLevel?: string;
  /** Started by a proxy to replace it (`handoff/`): a strict start, admin.sock taken at `takeOver`. */
  successor?: boolean;
  /** Called once this proxy, replaced by a successor, finished what it had open (main.ts exits). */
  onReplaced?: () => void;
}

/**
 * `single`: admin and data path in this process. `primary`: admin socket, snapshot and tables without
 * listeners; workers carry the traffic. `worker`: listeners and tables, changes come from the primary.
 */
type Role = 'single' | 'primary' | 'worker';

interface Route {
  table: ServiceTable;
  /** The preview listener, when the route has one (and it could listen). */
  preview: Server | undefined;
}

/**
 * Baton's embedded proxy: one HTTP listener per service, an admin API on a unix socket, and a snapshot
 * of its routes that is written (atomically) before every admin change is acknowledged. With workers, the
 * listeners live in the worker processes and every change is applied by all of them before it returns.
 */
export class ProxyServer implements DataPlane, Changes, Successor {
  readonly paths: ProxyPaths;
  readonly passiveUnhealthyMs: number;
  private readonly log: Logger;
  private readonly shutdownTimeoutMs: number;
  private readonly role: Role;
  private readonly routes = new Map<string, Route>();
  private readonly waiters = new DrainWaiters((service) => this.routes.get(service)?.table);
  private readonly doors: Doors;
  private readonly opts: ProxyServerOptions;
  private admin: AdminSocket | undefined;
  private fleet: Fleet | undefined;
  /** Counters of the proxies this one replaced (added to its own, so figures never go backwards). */
  private readonly carried = new CarriedCounters();
  /** Set once a successor took over: admin changes are refused (the client retries on the new one). */
  handedOver = false;
  private retiring: Promise<void> | undefined;
  private readonly changes: ChangeQueue;
  /** The proxy draining behind this one after a handoff (`handoff/behind.ts`). */
  private behind: Behind | undefined;
  private closing: Promise<void> | undefined;

  private constructor(opts: ProxyServerOptions, role: Role) {
    this.paths = proxyPaths(opts.dataDir);
    this.log = opts.logger ?? pino({ level: 'silent' });
    this.shutdownTimeoutMs = opts.shutdownTimeoutMs ?? 10_000;
    this.passiveUnhealthyMs = opts.passiveUnhealthyMs ?? 3000;
    this.role = role;
    this.opts = opts;
    this.doors = new Doors(this, this.log, role !== 'primary', () =>
      [...this.routes.values()].map((r) => r.table),
    );
    this.changes = new ChangeQueue({
      writes: role !== 'worker',
      statePath: this.paths.state,
      fleet: () => this.fleet,
      snapshot: () => this.snapshot(),
      handedOver: () => this.handedOver,
    });
  }

  /**
   * Restores the snapshot, listens again (itself, or through its workers once each one serves the
   * snapshot), then serves the admin socket and writes the pid file.
   */
  static async start(opts: ProxyServerOptions): Promise<ProxyServer> {
    const workers = opts.workers ?? 0;
    const p = new ProxyServer(opts, workers > 0 ? 'primary' : 'single');
    const successor = opts.successor === true;
    await mkdir(p.paths.dir, { recursive: true, mode: 0o700 });
    if (!successor) await AdminSocket.claim(p.paths);
    const { snapshot, corrupt } = await loadSnapshot(p.paths.state, successor);
    if (corrupt) p.log.error({ movedTo: corrupt }, 'snapshot unreadable; starting without routes');
    closeUnused(snapshot);
    await p.restore(snapshot, successor);
    try {
      if (workers > 0) {
        p.fleet = new Fleet({
          size: workers,
          entry: opts.workerEntry ?? fileURLToPath(new URL('./worker.js', import.meta.url)),
          log: p.log,
          logLevel: opts.logLevel ?? 'info',
          settings: () => ({
            dataDir: opts.dataDir,
            shutdownTimeoutMs: p.shutdownTimeoutMs,
            passiveUnhealthyMs: p.passiveUnhealthyMs,
            inherit: inheritedFds(),
            strictListen: successor,
          }),
          exclusive: (fn) => p.changes.exclusive(fn),
          snapshot: () => p.snapshot(),
        });
        await p.fleet.start();
      }
      p.admin = new AdminSocket(() => adminServer(p, p.log), p.paths);
      await p.admin.bind();
      if (!successor) await p.admin.publish();
    } catch (e) {
      await p.close();
      throw e;
    }
    p.log.info(
      { socket: p.paths.socket, routes: p.routes.size, workers: p.fleet?.pids, successor },
      successor ? 'proxy serving; waiting to take over' : 'proxy started',
    );
    return p;
  }

  /** A worker's data path: the primary's snapshot, listeners shared with the other workers. */
  static async worker(
    opts: Omit<ProxyServerOptions, 'workers' | 'workerEntry'> & {
      snapshot: Snapshot;
      strictListen?: boolean;
    },
  ): Promise<ProxyServer> {
    const p = new ProxyServer(opts, 'worker');
    await p.restore(opts.snapshot, opts.strictListen === true);
    return p;
  }

  /** Every listening socket of this process, by address: its doors and preview listeners. */
  listeners(): Array<{ listen: string; server: Server }> {
    const out = this.doors.listeners();
    for (const { table, preview } of this.routes.values())
      if (preview && table.preview !== undefined) out.push({ listen: table.preview, server: preview });
    return out;
  }

  /**
   * Hands this proxy over to a new process (`handoff/predecessor.ts`), alone between two admin changes;
   * resolves once the successor took over. This proxy then drains and calls `onReplaced` to exit.
   */
  handOff(req: HandoffCall, progress: (s: HandoffStep) => void): Promise<{ pid: number }> {
    if (this.role === 'worker') throw new DriverError('proxy', 'a worker does not hand off');
    const drains = [...this.routes.values()].map((r) => r.table.drainTimeoutMs);
    return this.changes.exclusive(() => {
      if (this.handedOver || this.closing) throw handedOffError();
      const { opts, fleet, paths, log } = this;
      return handOver(
        {
          ...{ paths, log, fleet, admin: this.admin! },
          args: successorArgs(opts, this.shutdownTimeoutMs),
          listeners: () => this.listeners(),
          totals: () => this.list(),
          retire: (ms) => this.retire(ms),
          handedOver: () => {
            this.handedOver = true;
          },
          applyRelayed: (change) => this.applyRelayed(change),
          waitDrained: (service, ids, ms) => this.waitDrained(service, ids, ms),
          replaced: () => opts.onReplaced?.(),
        },
        { ...req, drainTimeoutMs: req.drainTimeoutMs ?? Math.max(0, ...drains) },
        progress,
      );
    });
  }

  /** After a handoff: stops accepting, finishes what is open (at most `graceMs`), cuts the rest. */
  retire(graceMs: number): Promise<void> {
    // Once: a worker told to retire whose primary then dies must not start over (and cut at once).
    this.retiring ??= retireServing(
      this.serving(),
      this.listeners().map((l) => l.server),
      graceMs,
    );
    return this.retiring;
  }

  private serving(): Serving {
    return {
      routes: [...this.routes.values()],
      doors: this.doors.all(),
      plane: this,
      log: this.log,
    };
  }

  async takeOver(carry: RouteStatus[]): Promise<void> {
    this.carried.set(carry);
    await this.admin!.publish();
    this.log.info({ socket: this.paths.socket, workers: this.fleet?.pids }, 'took over: proxy started');
  }

  carryOver(carry: RouteStatus[]): void {
    this.carried.set(carry);
  }

  drainsBehind(behind: Behind): void {
    this.behind = behind;
    this.changes.relay = (change) => behind.relay(change);
  }

  /** A change the successor relays while this proxy drains (`handoff/link.ts`): applied, not written. */
  applyRelayed(change: Change): Promise<void> {
    return this.changes.relayed(() => applyChange(this, change));
  }

  /** Pids of the worker processes (none when the data path runs in this process). */
  get workerPids(): number[] {
    return this.fleet?.pids ?? [];
  }

  /**
   * Builds the tables of the snapshot and (unless the workers serve) opens their listeners; `strict` (a
   * proxy taking over) fails when one cannot open.
   */
  private async restore(snapshot: Snapshot, strict = false): Promise<void> {
    await this.doors.restoreDuty(snapshot, strict);
    for (const r of snapshot.routes) {
      const table = tableFrom(r);
      await this.doors.join(table, r, true, true, strict);
      const preview =
        r.preview === undefined || this.role === 'primary'
          ? undefined
          : await openRestored(table, this, r.preview, true, this.log, strict);
      this.routes.set(r.service, { table, preview });
    }
  }

  private snapshot(): Snapshot {
    return this.doors.saveDuty(snapshotOf([...this.routes.values()].map((r) => r.table)));
  }

  private table(service: string): ServiceTable {
    const r = this.routes.get(service);
    if (!r) throw new NotFoundError(`route for service ${service}`);
    return r.table;
  }

  ensureRoute(route: RouteConfig): Promise<void> {
    return this.changes.serial(async () => {
      const { service, listen, drainTimeoutMs } = route;
      const preview = route.preview ?? undefined;
      if (!parseListen(listen)) throw new InputError(`listen address "${listen}" is not host:port`);
      checkPreviewAddress(listen, preview, (a) => parseListen(a) !== undefined);
      this.doors.check(route);
      const existing = this.routes.get(service);
      const table = existing?.table ?? new ServiceTable(route);
      // The workers open the listeners (the first one binds, cluster shares it); any error comes back.
      if (this.fleet) await this.fleet.apply({ op: 'ensureRoute', route });
      const samePreview =
        existing !== undefined && table.preview === preview && existing.preview !== undefined;
      let previewServer = samePreview || this.role === 'primary' ? existing?.preview : undefined;
      if (preview !== undefined && previewServer === undefined && this.role !== 'primary')
        previewServer = await openListener(table, this, preview, true);
      try {
        await this.doors.join(table, route, existing === undefined);
      } catch (e) {
        if (previewServer && previewServer !== existing?.preview) void closeListener(previewServer, 0);
        throw e;
      }
      const oldPreview = existing?.preview !== previewServer ? existing?.preview : undefined;
      if (preview === undefined) previewServer = undefined;
      const changed = existing === undefined || table.preview !== preview || table.listen !== listen;
      const wasPreview = table.preview;
      table.preview = preview;
      table.drainTimeoutMs = drainTimeoutMs;
      table.setLimits(route.limits);
      applyEdgeLimits([previewServer], table.limits);
      table.keepAliveTimeoutMs = route.keepAliveTimeoutMs ?? KEEP_ALIVE_TIMEOUT_MS;
      if (previewServer) setKeepAlive(previewServer, table.keepAliveTimeoutMs);
      // join() configured the listener before the new limits were on the table.
      this.doors.reconfigure(table);
      this.routes.set(service, { table, preview: previewServer });
      if (oldPreview) {
        if (wasPreview !== undefined) forgetInherited(wasPreview);
        void closeListener(oldPreview, drainTimeoutMs);
      }
      if (changed)
        this.log.info(
          { service, listen, preview, hosts: route.hosts, tls: route.tls !== undefined },
          'route ready',
        );
    });
  }

  removeRoute(service: string): Promise<void> {
    return this.changes.serial(
      async () => {
        const r = this.routes.get(service);
        if (!r) return;
        this.routes.delete(service);
        this.fleet?.forget(service);
        releaseHeld(r.table, this, `baton: route for service ${service} was removed\n`);
        // In-flight requests and WebSockets get the drain timeout, then every connection is cut.
        const backends = r.table.list;
        const closeBackends = (): void => {
          for (const b of backends) b.close();
        };
        setTimeout(closeBackends, r.table.drainTimeoutMs).unref();
        if (r.preview) void closeListener(r.preview, r.table.drainTimeoutMs);
        if (r.table.preview !== undefined) forgetInherited(r.table.preview);
        // Other services on the same listener keep it (and their connections) open.
        void this.doors.leave(r.table, r.table.drainTimeoutMs).then(closeBackends);
        this.waiters.wake();
        this.log.info({ service }, 'route removed');
      },
      { op: 'removeRoute', service },
    );
  }

  addBackends(service: string, backends: Backend[], opts: { standby?: boolean } = {}): Promise<void> {
    return this.changes.serial(
      () => {
        this.table(service).add(backends, opts.standby === true);
        this.log.info(
          { service, ids: backends.map((b) => b.id), standby: opts.standby === true },
          'backends added',
        );
      },
      { op: 'addBackends', service, backends, standby: opts.standby === true },
    );
  }

  switchTo(service: string, ids: string[], add: Backend[] = []): Promise<void> {
    return this.changes.serial(
      () => {
        this.table(service).switchTo(ids, add);
        this.log.info({ service, ids }, 'switched');
      },
      { op: 'switchTo', service, ids, add },
    );
  }

  drain(service: string, ids: string[]): Promise<void> {
    return this.changes.serial(() => this.routes.get(service)?.table.drain(ids), {
      op: 'drain',
      service,
      ids,
    });
  }

  removeBackends(service: string, ids: string[]): Promise<void> {
    return this.changes.serial(
      () => {
        const gone = this.routes.get(service)?.table.remove(ids) ?? [];
        for (const b of gone) {
          if (b.open() > 0)
            this.log.warn({ service, id: b.id, open: b.open() }, 'closing backend with open connections');
          b.close();
        }
        if (gone.length > 0) this.log.info({ service, ids: gone.map((b) => b.id) }, 'backends removed');
        this.waiters.wake();
      },
      { op: 'removeBackends', service, ids },
    );
  }

  setHealthy(service: string, id: string, healthy: boolean): Promise<void> {
    return this.changes.serial(
      () => {
        this.routes.get(service)?.table.setHealthy(id, healthy);
      },
      { op: 'setHealthy', service, id, healthy },
    );
  }

  /** The admin API validated the split (`parseSplit`). */
  setSplit(service: string, split: RevisionSplit | null): Promise<void> {
    return this.changes.serial(
      () => {
        this.table(service).setSplit(split);
        this.log.info({ service, split }, 'split set');
      },
      { op: 'setSplit', service, split },
    );
  }

  setPreview(service: string, revision: number | null): Promise<void> {
    return this.changes.serial(
      () => {
        this.table(service).previewRevision = revision;
        this.log.info({ service, revision }, 'preview revision set');
      },
      { op: 'setPreview', service, revision },
    );
  }

  /** Leaving `hold` releases the held requests (forwarded in arrival order, or answered). */
  setMode(service: string, mode: RouteMode): Promise<void> {
    return this.changes.serial(
      () => {
        const table = this.table(service);
        const prev = table.setMode(mode);
        if (prev.kind === 'hold') releaseHeld(table, this, mode);
        if (prev.kind !== mode.kind) this.log.info({ service, mode: mode.kind }, 'mode set');
      },
      { op: 'setMode', service, mode },
    );
  }

  /** Opens (moves; null closes) the HTTP listener that answers ACME challenges and redirects to https. */
  setHttpListen(listen: string | null): Promise<void> {
    return this.changes.serial(
      async () => {
        if (listen !== null && !parseListen(listen))
          throw new InputError(`http listen address "${listen}" is not host:port`);
        await this.doors.setHttpListen(listen ?? undefined);
      },
      { op: 'setHttpListen', listen },
    );
  }

  /** Answers `GET /.well-known/acme-challenge/<token>` on the HTTP listener with `keyAuthorization`. */
  setChallenge(token: string, keyAuthorization: string): Promise<void> {
    return this.changes.serial(
      () => {
        if (!validChallengeToken(token)) throw new InputError('challenge token must be base64url');
        this.doors.duty.challenges.set(token, keyAuthorization);
      },
      { op: 'setChallenge', token, keyAuthorization },
    );
  }

  deleteChallenge(token: string): Promise<void> {
    return this.changes.serial(() => void this.doors.duty.challenges.delete(token), {
      op: 'deleteChallenge',
      token,
    });
  }

  get httpListen(): string | undefined {
    return this.doors.httpListen;
  }

  async waitDrained(service: string, ids: string[], timeoutMs: number): Promise<DrainResult> {
    const [own, theirs] = await Promise.all([
      this.fleet
        ? this.fleet.waitDrained(service, ids, timeoutMs)
        : this.waiters.wait(service, ids, timeoutMs),
      this.behind?.waitDrained(service, ids, timeoutMs),
    ]);
    return bothDrained(own, theirs);
  }

  /** DataPlane: a backend has nothing open any more. */
  idle(_b: BackendEntry): void {
    this.waiters.wake();
  }

  /** DataPlane: a client saw a reset because its backend failed mid-response. */
  cut(service: string, b: BackendEntry, code: string): void {
    this.log.warn({ service, id: b.id, code }, 'response cut: backend failed mid-response');
  }

  async status(service: string): Promise<RouteStatus | undefined> {
    const table = this.routes.get(service)?.table;
    if (table === undefined) return undefined;
    return (await this.statusOf([table]))[0];
  }

  list(): Promise<RouteStatus[]> {
    return this.statusOf([...this.routes.values()].map((r) => r.table));
  }

  /** The tables' status; with workers, their live figures summed (see `StatusMerger`). */
  private async statusOf(tables: ServiceTable[]): Promise<RouteStatus[]> {
    const now = performance.now();
    const own = tables.map((t) => t.status(now));
    const out = this.fleet ? await this.fleet.sum(own) : own;
    return out.map((r) => this.carried.apply(r));
  }

  get routeCount(): number {
    return this.routes.size;
  }

  /**
   * Stops listening, lets in-flight requests and WebSockets finish (bounded by `shutdownTimeoutMs`), then
   * closes everything and removes the socket and pid files. The snapshot stays for the next start.
   */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    this.log.info('proxy stopping');
    const admin = this.admin;
    await admin?.close();
    await this.fleet?.close(this.shutdownTimeoutMs);
    await stopServing(this.serving(), this.shutdownTimeoutMs);
    this.routes.clear();
    this.doors.clear();
    this.waiters.release();
    this.log.info('proxy stopped');
  }
}
