import { InputError } from '../../core/errors.js';
import type { Backend, BackendState, RevisionSplit, RouteMode } from '../router.js';

/** What Baton wants for one of its backends (a Baton instance), whatever the load balancer calls it. */
export interface BackendRecord {
  id: string;
  address: string;
  revision: number;
  weight: number;
  state: BackendState;
  healthy: boolean;
}

/**
 * What every external router records of a route: the truth it re-applies to a load balancer that knows
 * nothing of Baton (OCI backends carry no tags, an HAProxy reload forgets runtime changes).
 */
export interface RouteRecordBase<B extends BackendRecord = BackendRecord> {
  service: string;
  listen: string;
  drainTimeoutMs: number;
  split: RevisionSplit | null;
  mode: RouteMode;
  /** Which revision the preview listener serves, for drivers that have one. */
  previewRevision?: number | null | undefined;
  backends: B[];
}

const ADDRESS = /^(\[[^\]]+\]|[^:\s]*):\d{1,5}$/;

/** `host:port` (IPv6 in brackets). */
export const isAddress = (a: string): boolean => ADDRESS.test(a);

export function checkAddress(address: string, what = 'backend address'): void {
  if (!isAddress(address)) throw new InputError(`${what} "${address}" is not host:port`);
}

/**
 * Adds backends to a route's record in `state`, or updates them; a backend keeps its health verdict and
 * whatever else the driver records of it (an HAProxy slot). Returns the records that are new or moved
 * to another address.
 */
export function putBackends<B extends BackendRecord>(
  r: RouteRecordBase<B>,
  backends: Backend[],
  state: BackendState,
): B[] {
  const changed: B[] = [];
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
    if (prev && prev.address === b.address) Object.assign(prev, next);
    else if (prev) changed.push(Object.assign(prev, next));
    else {
      r.backends.push(next as B);
      changed.push(next as B);
    }
  }
  return changed;
}
