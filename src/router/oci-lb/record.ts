import { readStateFile, writeStateFile } from '../../core/state-file.js';
import type { Backend, BackendState, RevisionSplit, RouteMode } from '../router.js';
import type { OciLbRouteSettings } from './settings.js';

/** What Baton wants for one of its backends (a Baton instance), whatever OCI backends carry it. */
export interface BackendRecord {
  id: string;
  address: string;
  revision: number;
  weight: number;
  state: BackendState;
  healthy: boolean;
}

/** One service on the load balancer. */
export interface RouteRecord {
  service: string;
  listen: string;
  drainTimeoutMs: number;
  settings: OciLbRouteSettings;
  loadBalancerId: string;
  split: RevisionSplit | null;
  mode: RouteMode;
  backends: BackendRecord[];
}

interface StateFile {
  version: 1;
  routes: RouteRecord[];
}

/**
 * Baton's record of its routes on the load balancer, in memory and, with a file, on disk (written whole
 * and atomically after every change): OCI backends carry no tags, so which OCI backend is which Baton
 * instance is known only from here — a restarted control plane reads it back.
 */
export class RouteBook {
  private readonly routes = new Map<string, RouteRecord>();

  /** `readOnly`: a dry run reads the record but never writes it. */
  constructor(
    private readonly file: string | undefined,
    private readonly readOnly = false,
  ) {
    if (!file) return;
    for (const r of readStateFile<StateFile>(file, 'oci-lb')?.routes ?? []) this.routes.set(r.service, r);
  }

  get(service: string): RouteRecord | undefined {
    return this.routes.get(service);
  }

  all(): RouteRecord[] {
    return [...this.routes.values()];
  }

  set(r: RouteRecord): void {
    this.routes.set(r.service, r);
  }

  delete(service: string): void {
    this.routes.delete(service);
  }

  save(): void {
    if (!this.file || this.readOnly) return;
    writeStateFile(this.file, { version: 1, routes: this.all() } satisfies StateFile);
  }
}

/** Adds backends to a route's record in `state`, or updates them; a backend keeps its health verdict. */
export function putBackends(r: RouteRecord, backends: Backend[], state: BackendState): void {
  for (const b of backends) {
    const prev = r.backends.find((x) => x.id === b.id);
    const next: BackendRecord = {
      id: b.id,
      address: b.address,
      revision: b.revision,
      weight: b.weight ?? 1,
      state,
      healthy: prev?.healthy ?? true,
    };
    if (prev) Object.assign(prev, next);
    else r.backends.push(next);
  }
}
