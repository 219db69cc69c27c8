import { join } from 'node:path';
import { DriverError, InputError } from '../../core/errors.js';
import { ExternalRouter } from '../external/external-router.js';
import { recordStatus } from '../external/record-status.js';
import type { Backend, DrainResult, RouteConfig, RouteStatus } from '../router.js';
import { applyCommands, MAX_WEIGHT, targets } from './desired.js';
import { ALREADY_EXISTS, type Cmd, Fleet, NO_SUCH_SERVER } from './fleet.js';
import { nameOf, serverAddress } from './names.js';
import { drifted, type ReconcileReport } from './reconcile.js';
import { haproxyBook, type RouteRecord, type ServerRecord } from './record.js';
import { removeServers } from './remove.js';
import { writeServerStates } from './server-state.js';
import { parseServersState, pickSlot, slotNames } from './slots.js';
import { parseBackendList, type ServerStat } from './stat.js';

export type { ReconcileReport } from './reconcile.js';

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
  /** HAProxy's `server-state-file` Baton keeps current for backends with slots (a route's own wins). */
  serverStateFile?: string | undefined;
}

const POLL_MS = 100;
const ADDR_ANSWER = /no need to change|changed from/;

/**
 * Router driver for HAProxy over its runtime API (the stats socket): Baton fills `server-template`
 * slots (or adds dynamic servers) in backends the user declared in haproxy.cfg, and keeps HAProxy's
 * server-state file current so a reload or restart starts with them. See README.md in this folder.
 */
export class HaproxyRouter extends ExternalRouter<ServerRecord, RouteRecord> {
  readonly kind = 'haproxy';
  private readonly fleet: Fleet;
  private readonly pids = new Map<string, string>();
  private readonly serverOptions: string;
  private readonly removeTimeoutMs: number;

  constructor(private readonly opts: HaproxyRouterOptions) {
    super(haproxyBook(join(opts.stateDir, 'haproxy-router.json')), {
      previewListener:
        'preview listeners need the embedded proxy (router: proxy); with HAProxy, declare a second frontend in haproxy.cfg',
      preview: () =>
        'preview needs the embedded proxy (router: proxy): HAProxy serves no preview listener in this driver',
      hold: 'hold mode needs the embedded proxy (router: proxy): HAProxy cannot hold requests over its runtime API',
    });
    if (opts.sockets.length === 0) throw new DriverError('haproxy', 'no stats socket configured');
    const unfilled = opts.sockets.find((s) => s.includes('{node}'));
    if (unfilled)
      throw new DriverError(
        'haproxy',
        `stats socket "${unfilled}" has a {node} placeholder, which only baton agent (cluster mode) fills in with its node name`,
      );
    this.fleet = new Fleet(opts.sockets);
    this.serverOptions = (opts.serverOptions ?? 'check').trim();
    if (/[\n;\\]/.test(this.serverOptions))
      throw new DriverError('haproxy', 'serverOptions must be one line');
    this.removeTimeoutMs = opts.removeTimeoutMs ?? 10_000;
  }

  /**
   * One queue for every route: the server-state file holds all of them (a write renders every route, so
   * two at once could leave an older picture last), and `reconcile()` reads them all.
   */
  protected override queueKey(): string {
    return 'haproxy';
  }

  protected override async checkBackends(backends: Backend[]): Promise<void> {
    for (const b of backends) await serverAddress(b.address);
  }

  private backendOf(route: RouteConfig): string {
    const own = route.router?.kind === 'haproxy' ? route.router.backend : undefined;
    const b = own ?? this.opts.backends?.[route.service] ?? route.service;
    if (!/^[A-Za-z0-9_.:-]+$/.test(b)) throw new InputError(`"${b}" is not a valid HAProxy backend name`);
    return b;
  }

  /** Places a server: its address into its slot, or `add server` (+ `enable health`); a repeat is fine. */
  private async addCommands(r: RouteRecord, servers: ServerRecord[]): Promise<Cmd[]> {
    const options = r.serverOptions ?? this.serverOptions;
    const checks = /(^|\s)check(\s|$)/.test(options);
    const cmds: Cmd[] = [];
    for (const s of servers) {
      const name = `${r.backend}/${nameOf(s)}`;
      const addr = await serverAddress(s.address);
      const w = Math.min(MAX_WEIGHT, Math.max(1, Math.round(s.weight)));
      if (!s.slot)
        cmds.push({
          text: `add server ${name} ${addr.text} weight ${w} ${options}`.trim(),
          tolerate: ALREADY_EXISTS,
        });
      // An existing server (same id, new address) moves; "no need to change" when it did not.
      cmds.push({ text: `set server ${name} addr ${addr.ip} port ${addr.port}`, tolerate: ADDR_ANSWER });
      if (checks && !s.slot) cmds.push({ text: `enable health ${name}` });
    }
    return cmds;
  }

  /**
   * Brings every instance to the record: places `added`, then weights and states (READY first, then
   * DRAIN/MAINT) — one batch per instance. An instance that lost servers gets all of them back at once.
   */
  private async apply(r: RouteRecord, added: ServerRecord[] = []): Promise<void> {
    const set = applyCommands(r.backend, targets(r)).map((text) => ({ text, tolerate: NO_SUCH_SERVER }));
    const adds = await this.addCommands(r, added);
    const answers = await this.fleet.runAll([...adds, ...set]);
    for (const [socket, list] of answers)
      if (list.slice(adds.length).some((a) => NO_SUCH_SERVER.test(a))) await this.restore(socket, r);
  }

  /** Places the route's servers that one instance lacks (or carries otherwise) and re-applies states. */
  private async restore(socket: string, r: RouteRecord): Promise<string[]> {
    const ids = await drifted(this.fleet, socket, r);
    const off = r.backends.filter((s) => ids.includes(s.id));
    const set = applyCommands(r.backend, targets(r)).map((text) => ({ text }));
    await this.fleet.run(socket, [...(await this.addCommands(r, off)), ...set]);
    return ids;
  }

  /** The record, then HAProxy's server-state file: a reload from here on starts with this. */
  private async persist(): Promise<void> {
    this.book.save();
    const file = this.opts.serverStateFile;
    await writeServerStates(
      this.book.all().map((r) => ({ ...r, serverStateFile: r.serverStateFile ?? file })),
    );
  }

  protected async update(r: RouteRecord, edit: (next: RouteRecord) => void): Promise<void> {
    const before = new Map(r.backends.map((s) => [s.id, s.address]));
    edit(r);
    const added = r.backends.filter((s) => before.get(s.id) !== s.address);
    const slots = r.slots ?? [];
    for (const s of added)
      if (!s.slot && slots.length > 0) {
        s.slot = pickSlot(r.service, slots, new Set(r.backends.map((x) => x.slot ?? '')), r.lastSlot);
        r.lastSlot = s.slot;
      }
    await this.persist();
    await this.apply(r, added);
  }

  /** Slots every instance has in the backend (checked with `show backend`); none: dynamic servers. */
  private async findSlots(service: string, backend: string): Promise<string[]> {
    const found = await this.fleet.runAll(
      ['show backend', `show servers state ${backend}`].map((text) => ({ text })),
      true,
    );
    let common: string[] | undefined;
    for (const [socket, [list, states]] of found) {
      if (!parseBackendList(list ?? '').has(backend))
        throw new DriverError(
          'haproxy',
          `${socket} has no backend "${backend}" for service ${service}: declare "backend ${backend}" (with "balance roundrobin") in haproxy.cfg and reload`,
        );
      const mine = slotNames(parseServersState(states ?? ''), backend);
      common = common === undefined ? mine : common.filter((s) => mine.includes(s));
    }
    return common ?? [];
  }

  ensureRoute(route: RouteConfig): Promise<void> {
    return this.serial(route.service, async () => {
      this.checkRoute(route);
      const backend = this.backendOf(route);
      const slots = await this.findSlots(route.service, backend);
      const prev = this.book.get(route.service);
      if (prev && prev.backend !== backend && prev.backends.length > 0)
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
        backends: prev?.backends ?? [],
        serverOptions: own?.serverOptions.trim(),
        removeTimeoutMs: own?.removeTimeout,
        slots,
        lastSlot: prev?.lastSlot,
        serverStateFile: own?.serverStateFile ?? prev?.serverStateFile,
      });
      await this.persist();
    });
  }

  removeRoute(service: string): Promise<void> {
    return this.serial(service, async () => {
      const r = this.book.get(service);
      if (!r) return;
      await removeServers(this.fleet, r, r.backends, r.removeTimeoutMs ?? this.removeTimeoutMs);
      this.book.delete(service);
      await this.persist();
    });
  }

  /**
   * marathon-lb's rule: polls `show stat` on EVERY instance until current sessions (`scur`) and queued
   * requests (`qcur`) of these servers are 0 everywhere, or `timeoutMs` passes (then the counts are reported).
   */
  async waitDrained(service: string, ids: string[], timeoutMs: number): Promise<DrainResult> {
    const started = Date.now();
    const r = this.book.get(service);
    const names = new Set((r?.backends ?? []).filter((s) => ids.includes(s.id)).map(nameOf));
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
    return this.serial(service, async () => {
      const r = this.book.get(service);
      if (!r) return;
      const gone = r.backends.filter((s) => ids.includes(s.id));
      await removeServers(this.fleet, r, gone, r.removeTimeoutMs ?? this.removeTimeoutMs);
      r.backends = r.backends.filter((s) => !ids.includes(s.id));
      await this.persist();
    });
  }

  /**
   * Summed over every instance: inFlight = `scur` (WebSocket tunnels included), requests = `stot`,
   * errors = `hrsp_5xx` + `econ`. Counters restart at 0 after a reload.
   */
  override async status(service: string): Promise<RouteStatus | undefined> {
    const r = this.book.get(service);
    if (!r) return undefined;
    const all = r.backends.length > 0 ? await this.fleet.statsAll(r.backend) : [];
    const sum = (name: string, f: (s: ServerStat) => number) =>
      all.reduce((n, m) => n + (m.has(name) ? f(m.get(name)!) : 0), 0);
    return recordStatus(r, (s) => ({
      inFlight: sum(nameOf(s), (x) => x.scur),
      requests: sum(nameOf(s), (x) => x.stot),
      errors: sum(nameOf(s), (x) => x.hrsp5xx + x.econ),
    }));
  }

  /**
   * The safety net behind the server-state file: on every instance, puts right each server that is
   * missing (a dynamic server after a reload) or carries another address, state or weight than the
   * record, and reports them. A reload is seen by the worker's `Pid` changing (`show info`). When nothing
   * changed it only reads. Never throws: problems are reported per instance.
   */
  reconcile(): Promise<ReconcileReport[]> {
    return this.serial('', async () => {
      const reports = await this.reconcileAll();
      // A reload that did not find the server-state file (or a repair) wants it written for the next one.
      if (reports.some((r) => r.reloaded || Object.keys(r.restored).length > 0)) await this.persist();
      return reports;
    });
  }

  private reconcileAll(): Promise<ReconcileReport[]> {
    return Promise.all(
      this.fleet.sockets.map(async (socket): Promise<ReconcileReport> => {
        const report: ReconcileReport = { socket, pid: undefined, reloaded: false, restored: {} };
        try {
          const pid = (await this.fleet.info(socket)).Pid;
          report.pid = pid;
          const last = this.pids.get(socket);
          report.reloaded = last !== undefined && pid !== last;
          for (const r of this.book.all()) {
            if ((await drifted(this.fleet, socket, r)).length === 0) continue;
            const restored = await this.restore(socket, r);
            if (restored.length > 0) report.restored[r.service] = restored;
          }
          if (pid !== undefined) this.pids.set(socket, pid);
        } catch (e) {
          report.error = (e as Error).message;
        }
        return report;
      }),
    );
  }
}
