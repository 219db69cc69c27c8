import { join } from 'node:path';
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
import { applyCommands, targets } from './desired.js';
import { ALREADY_EXISTS, type Cmd, Fleet, NO_SUCH_SERVER } from './fleet.js';
import { serverAddress, serverName } from './names.js';
import { RouteBook, type RouteRecord, type ServerRecord } from './record.js';
import { removeServers } from './remove.js';
import { parseBackendList } from './stat.js';
import { routeStatus } from './status.js';

export interface HaproxyRouterOptions {
  /** Stats sockets (`level admin`) of every HAProxy carrying the traffic: unix paths or `host:port`. */
  sockets: string[];
  /** Service → HAProxy backend name (default: the service name). */
  backends?: Record<string, string> | undefined;
  /** Directory of the state file `haproxy-router.json` (Baton's record of what it added). */
  stateDir: string;
  /**
   * Keywords appended to `add server` (default `check`). Dynamic servers ignore `default-server`, so
   * health-check timing goes here, e.g. `check inter 1s fall 2`. With `check`, `enable health` follows.
   */
  serverOptions?: string | undefined;
  /** Longest wait for `del server` while HAProxy still has connections to it (default 10 s). */
  removeTimeoutMs?: number | undefined;
}

/** What `reconcile()` found and did on one HAProxy instance. */
export interface ReconcileReport {
  socket: string;
  pid: string | undefined;
  /** The worker's Pid changed since the last look: a reload (or a restart) happened. */
  reloaded: boolean;
  /** Baton servers that were missing and were added back, per service. */
  restored: Record<string, string[]>;
  /** Why this instance could not be reconciled (it is retried next time). */
  error?: string;
}

const ADDRESS = /^(\[[^\]]+\]|[^:\s]*):\d{1,5}$/;
const POLL_MS = 100;
const ADDR_ANSWER = /no need to change|changed from/;

/**
 * Router driver for HAProxy over its runtime API (the stats socket): Baton adds, drains and removes
 * dynamic servers in backends the user declared in haproxy.cfg. See README.md in this folder for the
 * design (connections, atomicity, reloads) and what HAProxy cannot do here (preview, hold, forced routing).
 */
export class HaproxyRouter implements Router {
  readonly kind = 'haproxy';
  private readonly fleet: Fleet;
  private readonly book: RouteBook;
  private readonly pids = new Map<string, string>();
  private readonly serverOptions: string;
  private readonly removeTimeoutMs: number;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly opts: HaproxyRouterOptions) {
    if (opts.sockets.length === 0) throw new DriverError('haproxy', 'no stats socket configured');
    const unfilled = opts.sockets.find((s) => s.includes('{node}'));
    if (unfilled)
      throw new DriverError(
        'haproxy',
        `stats socket "${unfilled}" has a {node} placeholder, which only baton agent (cluster mode) fills in with its node name`,
      );
    this.fleet = new Fleet(opts.sockets);
    this.book = new RouteBook(join(opts.stateDir, 'haproxy-router.json'));
    this.serverOptions = (opts.serverOptions ?? 'check').trim();
    if (/[\n;\\]/.test(this.serverOptions))
      throw new DriverError('haproxy', 'serverOptions must be one line');
    this.removeTimeoutMs = opts.removeTimeoutMs ?? 10_000;
  }

  /** Changes run one at a time, so two batches never interleave on HAProxy. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private route(service: string): RouteRecord {
    const r = this.book.get(service);
    if (!r) throw new NotFoundError(`route for service ${service}`);
    return r;
  }

  private backendOf(route: RouteConfig): string {
    const own = route.router?.kind === 'haproxy' ? route.router.backend : undefined;
    const b = own ?? this.opts.backends?.[route.service] ?? route.service;
    if (!/^[A-Za-z0-9_.:-]+$/.test(b)) throw new InputError(`"${b}" is not a valid HAProxy backend name`);
    return b;
  }

  /** `add server` (+ `enable health`) for these servers; an existing one is tolerated. */
  private async addCommands(r: RouteRecord, servers: ServerRecord[]): Promise<Cmd[]> {
    const { backend } = r;
    const options = r.serverOptions ?? this.serverOptions;
    const checks = /(^|\s)check(\s|$)/.test(options);
    const cmds: Cmd[] = [];
    for (const s of servers) {
      const name = serverName(s.id);
      const addr = await serverAddress(s.address);
      const w = Math.min(256, Math.max(1, Math.round(s.weight)));
      cmds.push({
        text: `add server ${backend}/${name} ${addr.text} weight ${w} ${options}`.trim(),
        tolerate: ALREADY_EXISTS,
      });
      // An existing server (same id, new address) moves; "no need to change" when it did not.
      cmds.push({
        text: `set server ${backend}/${name} addr ${addr.ip} port ${addr.port}`,
        tolerate: ADDR_ANSWER,
      });
      if (checks) cmds.push({ text: `enable health ${backend}/${name}` });
    }
    return cmds;
  }

  /**
   * Brings every instance to the record for a route: adds `added` (or every server when `all`), then the
   * weights and states (READY first, then DRAIN/MAINT) — one batch per instance. An instance that lost
   * servers (reloaded before `reconcile()` ran) gets all of them back at once.
   */
  private async apply(r: RouteRecord, added: ServerRecord[] = []): Promise<void> {
    const set = applyCommands(r.backend, targets(r)).map((text) => ({ text, tolerate: NO_SUCH_SERVER }));
    const adds = await this.addCommands(r, added);
    const answers = await this.fleet.runAll([...adds, ...set]);
    for (const [socket, list] of answers)
      if (list.slice(adds.length).some((a) => NO_SUCH_SERVER.test(a))) await this.restore(socket, r);
  }

  /** Adds every recorded server of a route missing on one instance and re-applies states and weights. */
  private async restore(socket: string, r: RouteRecord): Promise<string[]> {
    const present = await this.fleet.stats(socket, r.backend);
    const missing = r.servers.filter((s) => !present.has(serverName(s.id)));
    const set = applyCommands(r.backend, targets(r)).map((text) => ({ text }));
    await this.fleet.run(socket, [...(await this.addCommands(r, missing)), ...set]);
    return missing.map((s) => s.id);
  }

  private put(r: RouteRecord, backends: Backend[], state: BackendState): ServerRecord[] {
    const changed: ServerRecord[] = [];
    for (const b of backends) {
      const prev = r.servers.find((s) => s.id === b.id);
      const next: ServerRecord = {
        id: b.id,
        address: b.address,
        revision: b.revision,
        weight: b.weight ?? 1,
        state,
        healthy: prev?.healthy ?? true,
      };
      if (!prev || prev.address !== b.address) changed.push(next);
      if (prev) Object.assign(prev, next);
      else r.servers.push(next);
    }
    return changed;
  }

  ensureRoute(route: RouteConfig): Promise<void> {
    return this.serial(async () => {
      if (!ADDRESS.test(route.listen))
        throw new InputError(`listen address "${route.listen}" is not host:port`);
      if (route.preview !== undefined && route.preview !== null)
        throw new DriverError(
          'haproxy',
          'preview listeners need the embedded proxy (router: proxy); with HAProxy, declare a second frontend in haproxy.cfg',
        );
      for (const r of this.book.all())
        if (r.service !== route.service && r.listen === route.listen)
          throw new InputError(`listen address ${route.listen} is already used by service ${r.service}`);
      const backend = this.backendOf(route);
      const lists = await this.fleet.runAll([{ text: 'show backend' }], true);
      for (const [socket, [text]] of lists)
        if (!parseBackendList(text ?? '').has(backend))
          throw new DriverError(
            'haproxy',
            `${socket} has no backend "${backend}" for service ${route.service}: declare "backend ${backend}" (with "balance roundrobin") in haproxy.cfg and reload`,
          );
      const prev = this.book.get(route.service);
      if (prev && prev.backend !== backend && prev.servers.length > 0)
        throw new InputError(
          `service ${route.service} has servers in HAProxy backend "${prev.backend}": stop the service (baton stop) before moving it to "${backend}"`,
        );
      const own = route.router?.kind === 'haproxy' ? route.router : undefined;
      this.book.set({
        service: route.service,
        listen: route.listen,
        drainTimeoutMs: route.drainTimeoutMs,
        backend,
        split: prev?.split ?? null,
        mode: prev?.mode ?? { kind: 'serve' },
        servers: prev?.servers ?? [],
        serverOptions: own?.serverOptions.trim(),
        removeTimeoutMs: own?.removeTimeout,
      });
    });
  }

  removeRoute(service: string): Promise<void> {
    return this.serial(async () => {
      const r = this.book.get(service);
      if (!r) return;
      await removeServers(this.fleet, r, r.servers, r.removeTimeoutMs ?? this.removeTimeoutMs);
      this.book.delete(service);
    });
  }

  addBackends(service: string, backends: Backend[], opts?: { standby?: boolean }): Promise<void> {
    return this.serial(async () => {
      const r = this.route(service);
      for (const b of backends) await serverAddress(b.address);
      const added = this.put(r, backends, opts?.standby ? BackendState.Standby : BackendState.Active);
      this.book.save();
      await this.apply(r, added);
    });
  }

  switchTo(service: string, ids: string[], add: Backend[] = []): Promise<void> {
    return this.serial(async () => {
      const r = this.route(service);
      const adding = new Set(add.map((b) => b.id));
      for (const id of ids)
        if (!adding.has(id) && !r.servers.some((s) => s.id === id))
          throw new NotFoundError(`backend ${id} of service ${service}`);
      for (const b of add) await serverAddress(b.address);
      const added = this.put(r, add, BackendState.Active);
      const wanted = new Set(ids);
      for (const s of r.servers) s.state = wanted.has(s.id) ? BackendState.Active : BackendState.Draining;
      this.book.save();
      await this.apply(r, added);
    });
  }

  drain(service: string, ids: string[]): Promise<void> {
    return this.serial(async () => {
      const r = this.book.get(service);
      if (!r) return;
      for (const s of r.servers) if (ids.includes(s.id)) s.state = BackendState.Draining;
      this.book.save();
      await this.apply(r);
    });
  }

  /**
   * marathon-lb's rule: polls `show stat` on EVERY instance until current sessions (`scur`) and queued
   * requests (`qcur`) of these servers are 0 everywhere, or `timeoutMs` passes (then the counts are reported).
   */
  async waitDrained(service: string, ids: string[], timeoutMs: number): Promise<DrainResult> {
    const started = Date.now();
    const r = this.book.get(service);
    const names = new Set((r?.servers ?? []).filter((s) => ids.includes(s.id)).map((s) => serverName(s.id)));
    if (!r || names.size === 0) return { drained: true, inFlight: 0, waitedMs: 0 };
    for (;;) {
      let open = 0;
      for (const stats of await this.fleet.statsAll(r.backend))
        for (const [name, st] of stats) if (names.has(name)) open += st.scur + st.qcur;
      const waitedMs = Date.now() - started;
      if (open === 0) return { drained: true, inFlight: 0, waitedMs };
      if (waitedMs >= timeoutMs) return { drained: false, inFlight: open, waitedMs };
      await new Promise((res) => setTimeout(res, Math.min(POLL_MS, Math.max(1, timeoutMs - waitedMs))));
    }
  }

  removeBackends(service: string, ids: string[]): Promise<void> {
    return this.serial(async () => {
      const r = this.book.get(service);
      if (!r) return;
      const gone = r.servers.filter((s) => ids.includes(s.id));
      await removeServers(this.fleet, r, gone, r.removeTimeoutMs ?? this.removeTimeoutMs);
      r.servers = r.servers.filter((s) => !ids.includes(s.id));
      this.book.save();
    });
  }

  /**
   * The control plane's probe verdict. Unhealthy servers are put in MAINT (not `set server health down`,
   * which HAProxy's own checks would overturn at the next check); healthy ones get back their state.
   */
  setHealthy(service: string, id: string, healthy: boolean): Promise<void> {
    return this.serial(async () => {
      const r = this.book.get(service);
      const s = r?.servers.find((x) => x.id === id);
      if (!r || !s) return;
      s.healthy = healthy;
      this.book.save();
      await this.apply(r);
    });
  }

  /**
   * A canary split as HAProxy server weights (see `targets`). Stickiness and forced routing
   * (`X-Baton-Revision`) are recorded but need haproxy.cfg: see README.md.
   */
  setSplit(service: string, split: RevisionSplit | null): Promise<void> {
    return this.serial(async () => {
      const r = this.route(service);
      r.split = parseSplit(split);
      this.book.save();
      await this.apply(r);
    });
  }

  /** Only `null` (no preview): HAProxy has no preview listener in this driver. */
  async setPreview(service: string, revision: number | null): Promise<void> {
    this.route(service);
    if (parsePreviewRevision(revision) !== null)
      throw new DriverError(
        'haproxy',
        'preview needs the embedded proxy (router: proxy): HAProxy serves no preview listener in this driver',
      );
  }

  /**
   * `maintenance`: every Baton server to MAINT; the 503 page is HAProxy's (`errorfile 503` in haproxy.cfg),
   * `body` is recorded but not served. `hold` cannot be done over the runtime API: DriverError.
   */
  setMode(service: string, mode: RouteMode): Promise<void> {
    return this.serial(async () => {
      const r = this.route(service);
      const clean = parseMode(mode);
      if (clean.kind === 'hold')
        throw new DriverError(
          'haproxy',
          'hold mode needs the embedded proxy (router: proxy): HAProxy cannot hold requests over its runtime API',
        );
      r.mode = clean;
      this.book.save();
      await this.apply(r);
    });
  }

  /** Summed over every instance: see `routeStatus`. */
  async status(service: string): Promise<RouteStatus | undefined> {
    const r = this.book.get(service);
    if (!r) return undefined;
    return routeStatus(r, r.servers.length > 0 ? await this.fleet.statsAll(r.backend) : []);
  }

  /**
   * Re-applies Baton's record on every instance that lost servers: a reload starts a new worker from
   * haproxy.cfg, which knows nothing of servers added over the runtime API. Detected by the worker's
   * `Pid` changing (`show info`) or by recorded servers missing from `show stat`. Safe to call every few
   * seconds: when nothing changed it only reads. Never throws: problems are reported per instance.
   */
  reconcile(): Promise<ReconcileReport[]> {
    return this.serial(() =>
      Promise.all(
        this.fleet.sockets.map(async (socket): Promise<ReconcileReport> => {
          const report: ReconcileReport = { socket, pid: undefined, reloaded: false, restored: {} };
          try {
            const pid = (await this.fleet.info(socket)).Pid;
            report.pid = pid;
            const last = this.pids.get(socket);
            report.reloaded = last !== undefined && pid !== last;
            for (const r of this.book.all()) {
              const present = await this.fleet.stats(socket, r.backend);
              const missing = r.servers.some((s) => !present.has(serverName(s.id)));
              if (!missing && !report.reloaded) continue;
              const restored = await this.restore(socket, r);
              if (restored.length > 0) report.restored[r.service] = restored;
            }
            if (pid !== undefined) this.pids.set(socket, pid);
          } catch (e) {
            report.error = (e as Error).message;
          }
          return report;
        }),
      ),
    );
  }

  async close(): Promise<void> {
    await this.queue;
  }
}
