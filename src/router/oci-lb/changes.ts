import type { models } from 'oci-loadbalancer';
import type { PlannedCall } from '../../cloud/planned.js';
import { type DesiredBackend, desiredBackends, serving } from './desired.js';
import type { RouteRecord } from './record.js';
import type { HealthChecker } from './settings.js';

/** One step that brings the load balancer to Baton's record (described first, then run or printed). */
export type LbChange =
  | { kind: 'create-backend-set'; name: string; policy: string; healthChecker: HealthChecker }
  | { kind: 'create-backend'; d: DesiredBackend }
  | { kind: 'update-backend'; d: DesiredBackend }
  | { kind: 'wait-healthy'; d: DesiredBackend }
  | { kind: 'delete-backend'; backendSet: string; name: string };

/**
 * Pure: what brings `lb` to the record `r`. Serving backends first (created or updated), then a health
 * wait for each that just started serving, then the others (drain, offline): traffic moves to a new set
 * only once it is OK, and the old set keeps serving if it never is. Backends already as wanted: nothing.
 */
export function routeChanges(lb: models.LoadBalancer, r: RouteRecord): LbChange[] {
  const current = (d: DesiredBackend) =>
    lb.backendSets?.[d.backendSet]?.backends.find((b) => b.name === d.name);
  const desired = desiredBackends(r);
  const out: LbChange[] = [];
  const waits: LbChange[] = [];
  const sync = (d: DesiredBackend, list: LbChange[]) => {
    const cur = current(d);
    if (!cur) list.push({ kind: 'create-backend', d });
    else if (cur.weight !== d.weight || cur.drain !== d.drain || cur.offline !== d.offline || cur.backup)
      list.push({ kind: 'update-backend', d });
    else return;
    if (serving(d) && (!cur || !serving(cur))) waits.push({ kind: 'wait-healthy', d });
  };
  for (const d of desired.filter(serving)) sync(d, out);
  const rest: LbChange[] = [];
  for (const d of desired.filter((x) => !serving(x))) sync(d, rest);
  return [...out, ...waits, ...rest];
}

/** Deleting these OCI backends. */
export const deleteChanges = (list: DesiredBackend[]): LbChange[] =>
  list.map((d) => ({ kind: 'delete-backend', backendSet: d.backendSet, name: d.name }));

const WR = 'GetWorkRequest until SUCCEEDED';

/** A change as the Load Balancing API call it is (what `baton plan` prints). */
export function describeChange(lbId: string, c: LbChange, healthTimeoutMs: number): PlannedCall {
  const lb = `/20170115/loadBalancers/${lbId}`;
  const backend = (set: string, name: string) =>
    `${lb}/backendSets/${set}/backends/${encodeURIComponent(name)}`;
  const fields = (d: DesiredBackend) => ({
    weight: d.weight,
    backup: d.backup,
    drain: d.drain,
    offline: d.offline,
  });
  switch (c.kind) {
    case 'create-backend-set':
      return {
        op: 'CreateBackendSet',
        method: 'POST',
        path: `${lb}/backendSets`,
        body: { name: c.name, policy: c.policy, backends: [], healthChecker: c.healthChecker },
        awaits: WR,
      };
    case 'create-backend':
      return {
        op: 'CreateBackend',
        method: 'POST',
        path: `${lb}/backendSets/${c.d.backendSet}/backends`,
        body: { ipAddress: c.d.ipAddress, port: c.d.port, ...fields(c.d) },
        awaits: WR,
      };
    case 'update-backend':
      return {
        op: 'UpdateBackend',
        method: 'PUT',
        path: backend(c.d.backendSet, c.d.name),
        body: fields(c.d),
        awaits: WR,
      };
    case 'wait-healthy':
      return {
        op: 'GetBackendHealth',
        method: 'GET',
        path: `${backend(c.d.backendSet, c.d.name)}/health`,
        awaits: `repeat until OK (404 = not yet), at most ${healthTimeoutMs} ms`,
      };
    case 'delete-backend':
      return { op: 'DeleteBackend', method: 'DELETE', path: backend(c.backendSet, c.name), awaits: WR };
  }
}

/**
 * The load balancer as it will be after a change (a dry run keeps reading its own picture, so a planned
 * drain is not planned twice). Mutates `lb`.
 */
export function applyToModel(lb: models.LoadBalancer, c: LbChange): void {
  lb.backendSets ??= {};
  const sets = lb.backendSets;
  if (c.kind === 'create-backend-set') {
    sets[c.name] = { name: c.name, policy: c.policy, backends: [], healthChecker: c.healthChecker } as never;
    return;
  }
  if (c.kind === 'wait-healthy') return;
  const set = sets[c.kind === 'delete-backend' ? c.backendSet : c.d.backendSet];
  if (!set) return;
  if (c.kind === 'delete-backend') {
    set.backends = set.backends.filter((b) => b.name !== c.name);
    return;
  }
  const fields = { weight: c.d.weight, backup: c.d.backup, drain: c.d.drain, offline: c.d.offline };
  const cur = set.backends.find((b) => b.name === c.d.name);
  if (cur) Object.assign(cur, fields);
  else set.backends.push({ name: c.d.name, ipAddress: c.d.ipAddress, port: c.d.port, ...fields });
}
