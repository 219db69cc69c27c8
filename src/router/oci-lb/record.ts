import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { DriverError } from '../../core/errors.js';
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
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw new DriverError('oci-lb', `cannot read ${file}: ${(e as Error).message}`, e);
    }
    try {
      for (const r of (JSON.parse(text) as StateFile).routes ?? []) this.routes.set(r.service, r);
    } catch (e) {
      throw new DriverError('oci-lb', `state file ${file} is not valid JSON: ${(e as Error).message}`, e);
    }
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
    const body: StateFile = { version: 1, routes: this.all() };
    mkdirSync(dirname(this.file), { recursive: true });
    const tmp = `${this.file}.${process.pid}.tmp`;
    writeFileSync(tmp, `${JSON.stringify(body, null, 2)}\n`, { mode: 0o600 });
    renameSync(tmp, this.file);
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
