import { readStateFile, writeStateFile } from '../../core/state-file.js';
import type { BackendState, RevisionSplit, RouteMode } from '../router.js';

/** What Baton wants for one server it added: the truth `reconcile()` re-applies after a reload. */
export interface ServerRecord {
  id: string;
  address: string;
  revision: number;
  weight: number;
  state: BackendState;
  healthy: boolean;
}

/** One service: its route config, HAProxy backend, and Baton's servers in insertion order. */
export interface RouteRecord {
  service: string;
  listen: string;
  drainTimeoutMs: number;
  backend: string;
  split: RevisionSplit | null;
  mode: RouteMode;
  servers: ServerRecord[];
  /** `traffic.router.serverOptions` of the service, when it set one (else the router's default). */
  serverOptions?: string | undefined;
  /** `traffic.router.removeTimeout` in ms, when set. */
  removeTimeoutMs?: number | undefined;
}

interface StateFile {
  version: 1;
  routes: RouteRecord[];
}

/**
 * Baton's own record of the routes and servers it manages, in memory and in a small JSON file (written
 * whole, atomically, after every change) so a restarted control plane can re-apply it after a reload.
 */
export class RouteBook {
  private readonly routes = new Map<string, RouteRecord>();

  constructor(private readonly file: string) {
    for (const r of readStateFile<StateFile>(file, 'haproxy')?.routes ?? []) this.routes.set(r.service, r);
  }

  get(service: string): RouteRecord | undefined {
    return this.routes.get(service);
  }

  all(): RouteRecord[] {
    return [...this.routes.values()];
  }

  set(r: RouteRecord): void {
    this.routes.set(r.service, r);
    this.save();
  }

  delete(service: string): void {
    if (this.routes.delete(service)) this.save();
  }

  /** Writes the record after an in-place change. */
  save(): void {
    writeStateFile(this.file, { version: 1, routes: this.all() } satisfies StateFile);
  }
}
