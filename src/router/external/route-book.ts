import { readStateFile, writeStateFile } from '../../core/state-file.js';
import type { BackendRecord, RouteRecordBase } from './record.js';

interface StateFile<R> {
  version: 1;
  routes: R[];
}

export interface RouteBookOptions<R> {
  /** The driver, for errors naming a broken file. */
  driver: string;
  /** Where the record is kept; memory only without. */
  file?: string | undefined;
  /** A dry run reads the record but never writes it. */
  readOnly?: boolean | undefined;
  /** Routes to start from instead of the file (a dry run's copy of the live router's). */
  routes?: R[] | undefined;
  /** Turns a route as read from the file into the current shape (older files, fields not to trust). */
  revive?: ((saved: R) => R) | undefined;
}

/**
 * An external router's record of its routes, in memory and, with a file, on disk — written whole and
 * atomically (core/state-file.ts), so a restarted control plane knows what it put on the load balancer.
 */
export class RouteBook<R extends RouteRecordBase<BackendRecord>> {
  private readonly routes = new Map<string, R>();
  /** Changes under way, each as its intent: written in place of the route until the change settles. */
  private readonly intents = new Map<string, R>();

  constructor(private readonly opts: RouteBookOptions<R>) {
    if (opts.routes) for (const r of opts.routes) this.routes.set(r.service, structuredClone(r));
    else if (opts.file)
      for (const r of readStateFile<StateFile<R>>(opts.file, opts.driver)?.routes ?? [])
        this.routes.set(r.service, opts.revive ? opts.revive(r) : r);
  }

  get(service: string): R | undefined {
    return this.routes.get(service);
  }

  all(): R[] {
    return [...this.routes.values()];
  }

  set(r: R): void {
    this.routes.set(r.service, r);
  }

  delete(service: string): void {
    this.routes.delete(service);
  }

  /**
   * Writes the record. `intent`: what a change under way may leave behind (written in place of its route
   * until `settle`), so a control plane that dies in the middle leaves its successor everything it touched.
   */
  save(intent?: R): void {
    if (intent) this.intents.set(intent.service, intent);
    if (!this.opts.file || this.opts.readOnly) return;
    const routes = this.all().map((r) => this.intents.get(r.service) ?? r);
    writeStateFile(this.opts.file, { version: 1, routes } satisfies StateFile<R>);
  }

  /** The change of a route ended (done or failed): its record is the truth again. */
  settle(service: string): void {
    this.intents.delete(service);
  }
}
