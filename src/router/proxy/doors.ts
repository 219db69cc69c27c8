import type { Server } from 'node:http';
import type { Logger } from 'pino';
import { InputError } from '../../core/errors.js';
import type { RouteConfig } from '../router.js';
import { CertRegistry } from './certs.js';
import { ALPN, Door } from './door.js';
import { HttpListenerDuty } from './http-duty.js';
import { claimConflict, normalPrefix } from './match.js';
import type { DataPlane } from './plane.js';
import type { ServiceTable } from './service.js';
import type { Snapshot } from './snapshot.js';

/**
 * The proxy's listening addresses: one `Door` per address, shared by the services that name it, open
 * while any service (or the HTTP listener duty) uses it. With `serving` false (the primary of a fleet)
 * nothing listens here and no certificate is loaded: the same checks run, the workers hold the sockets.
 */
export class Doors {
  private readonly byListen = new Map<string, Door>();
  private readonly certs: CertRegistry;
  readonly duty: HttpListenerDuty;
  /** The proxy's HTTP listener (challenges, redirects), once the control plane asked for one. */
  httpListen: string | undefined;

  constructor(
    private readonly plane: DataPlane,
    private readonly log: Logger,
    private readonly serving: boolean,
    private readonly tables: () => Iterable<ServiceTable>,
  ) {
    this.certs = new CertRegistry(log, ALPN);
    this.duty = new HttpListenerDuty(() => [...this.tables()].filter((t) => t.tls !== undefined));
  }

  /** Throws (nothing changed) when `route` cannot share its listener with the services already on it. */
  check(route: RouteConfig): void {
    const others = [...this.tables()].filter((t) => t.service !== route.service);
    const tls = route.tls !== undefined;
    const claim = {
      hosts: (route.hosts ?? []).map((h) => h.toLowerCase()),
      pathPrefix: normalPrefix(route.pathPrefix),
    };
    const sharing = others.filter((t) => t.listen === route.listen);
    for (const t of sharing) {
      if ((t.tls !== undefined) !== tls)
        throw new InputError(
          `listen address ${route.listen} is ${tls ? 'plain HTTP' : 'TLS'} for service ${t.service}; a listener is TLS for all its services or for none`,
        );
    }
    const clash = claimConflict(claim, sharing);
    if (clash)
      throw new InputError(
        `listen address ${route.listen}: ${clash.what} is already served by service ${clash.service}`,
      );
    for (const t of others)
      if (t.preview !== undefined && (t.preview === route.listen || t.preview === route.preview))
        throw new InputError(
          `listen address ${t.preview} is already used by service ${t.service} (its preview listener)`,
        );
    if (route.preview !== undefined && others.some((t) => t.listen === route.preview))
      throw new InputError(`listen address ${route.preview} is already used by another service`);
    if (tls && route.listen === this.httpListen)
      throw new InputError(
        `listen address ${route.listen} is the proxy's HTTP listener; it cannot serve TLS`,
      );
  }

  /**
   * Puts `table` (with its new `route`) on its listener, opening it if needed. Returns the door it left,
   * if any, so the caller retires it after the switch. Throws with nothing changed when the address
   * cannot be had.
   */
  async join(
    table: ServiceTable,
    route: RouteConfig,
    fresh: boolean,
    restoring = false,
    strict = false,
  ): Promise<void> {
    const was = fresh ? undefined : this.byListen.get(table.listen);
    let door = this.byListen.get(route.listen);
    const created = door === undefined;
    door ??= new Door(route.listen, route.tls !== undefined, this.plane);
    if (this.serving && !door.server) {
      if (restoring) await openRestoredDoor(door, table, this.log, strict);
      else await door.open(table, `service ${table.service}`);
    }
    if (created) this.byListen.set(route.listen, door);
    const opened = created && door.server !== undefined;
    const certs = this.serving && Array.isArray(route.tls) ? route.tls.map((f) => this.certs.acquire(f)) : [];
    for (const c of table.certs) this.certs.release(c);
    table.certs = certs;
    table.listen = route.listen;
    table.setClaim(route);
    if (was !== door) was?.tables.delete(table);
    door.tables.add(table);
    table.connections.main = door.counters;
    if (route.listen === this.httpListen) door.duty = this.duty;
    door.configure(table);
    if (opened) this.log.info({ listen: route.listen, tls: door.tls }, 'listener open');
    if (was && was !== door) this.retire(was, table.drainTimeoutMs);
  }

  /** Applies `table`'s connection-level settings (head and keep-alive timeouts) to its open listener. */
  reconfigure(table: ServiceTable): void {
    const door = this.byListen.get(table.listen);
    if (door?.tables.has(table)) door.configure(table);
  }

  /** Takes `table` off its listener; the listener closes (after `graceMs` for open requests) when unused. */
  leave(table: ServiceTable, graceMs: number): Promise<void> {
    for (const c of table.certs) this.certs.release(c);
    table.certs = [];
    const door = this.byListen.get(table.listen);
    if (!door?.tables.delete(table)) return Promise.resolve();
    return this.retire(door, graceMs);
  }

  private retire(door: Door, graceMs: number): Promise<void> {
    if (door.tables.size > 0 || door.listen === this.httpListen) return Promise.resolve();
    this.byListen.delete(door.listen);
    this.log.info({ listen: door.listen }, 'listener closed (no service uses it)');
    return door.close(graceMs);
  }

  /** Opens (or moves, or with undefined closes) the proxy's HTTP listener. */
  async setHttpListen(listen: string | undefined): Promise<void> {
    if (listen === this.httpListen) return;
    const existing = listen === undefined ? undefined : this.byListen.get(listen);
    if (existing?.tls) throw new InputError(`http listen address ${listen} is a TLS listener of the proxy`);
    let door = existing;
    if (listen !== undefined && !door) {
      door = new Door(listen, false, this.plane);
      if (this.serving)
        await door.open(undefined, "the proxy's HTTP listener (ACME challenges and redirects)");
      this.byListen.set(listen, door);
      this.log.info({ listen }, 'HTTP listener open');
    }
    const old = this.httpListen === undefined ? undefined : this.byListen.get(this.httpListen);
    this.httpListen = listen;
    if (door) door.duty = this.duty;
    if (old && old !== door) {
      old.duty = undefined;
      void this.retire(old, 0);
    }
  }

  /** The HTTP listener and ACME answers of a snapshot; one that cannot open is logged (`strict`: thrown). */
  async restoreDuty(snapshot: Snapshot, strict: boolean): Promise<void> {
    if (snapshot.httpListen !== undefined) {
      await this.setHttpListen(snapshot.httpListen).catch((e: Error) => {
        if (strict) throw e;
        this.log.error({ listen: snapshot.httpListen, err: e.message }, 'cannot open the HTTP listener');
      });
    }
    for (const [token, keyAuth] of Object.entries(snapshot.challenges ?? {}))
      this.duty.challenges.set(token, keyAuth);
  }

  /** Adds the HTTP listener and the ACME answers to `snap`. */
  saveDuty(snap: Snapshot): Snapshot {
    if (this.httpListen !== undefined) snap.httpListen = this.httpListen;
    if (this.duty.challenges.size > 0) snap.challenges = Object.fromEntries(this.duty.challenges);
    return snap;
  }

  /** Every open listener (for shutdown). */
  all(): Door[] {
    return [...this.byListen.values()];
  }

  /** Every listening socket here, by address (what a handoff passes on). */
  listeners(): Array<{ listen: string; server: Server }> {
    return this.all().flatMap((d) => (d.server ? [{ listen: d.listen, server: d.server }] : []));
  }

  /** Whether the route's listener is open here (a restored route may have failed to listen). */
  listening(listen: string): boolean {
    return this.byListen.get(listen)?.server !== undefined;
  }

  clear(): void {
    for (const d of this.byListen.values())
      for (const t of d.tables) for (const c of t.certs) this.certs.release(c);
    this.byListen.clear();
  }
}

/** How long a restored listener keeps trying an address that is still taken. */
const RESTORE_LISTEN_RETRY_MS = 3000;

/**
 * The workers of a proxy killed a moment ago may still hold the address while they exit, so a taken
 * address is tried again for a while; one that cannot listen is logged and left closed (the service's
 * next ensureRoute tries again), unless `strict`: a proxy taking over from a running one must serve every
 * route that one serves, or not take over.
 */
async function openRestoredDoor(
  door: Door,
  table: ServiceTable,
  log: Logger,
  strict: boolean,
): Promise<void> {
  const deadline = Date.now() + RESTORE_LISTEN_RETRY_MS;
  for (;;) {
    try {
      return await door.open(table, `service ${table.service}`);
    } catch (e) {
      const code = ((e as Error).cause as NodeJS.ErrnoException | undefined)?.code;
      if (code === 'EADDRINUSE' && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 100));
        continue;
      }
      if (strict) throw e;
      log.error(
        { service: table.service, listen: door.listen, err: (e as Error).message },
        'cannot listen for restored route',
      );
      return;
    }
  }
}
