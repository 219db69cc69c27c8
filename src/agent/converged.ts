import { ConflictError } from '../core/errors.js';
import { RevisionStatus } from '../core/types.js';
import type { Repo } from '../store/repo.js';
import type { Store } from '../store/store.js';
import { type Desired, desiredKey, readDesired } from './desired.js';
import { SlotState } from './machine.js';
import type { NodeStatus } from './node-status.js';

/** Whether one node runs `replicas` healthy, registered instances of `revision` of `service`, in RUN. */
export function nodeConverged(n: NodeStatus, service: string, revision: number, replicas: number): boolean {
  const s = n.services.find((x) => x.service === service);
  return (
    s !== undefined &&
    s.desired === revision &&
    s.slots.length === replicas &&
    s.slots.every((x) => x.state === SlotState.Run && x.revision === revision && x.healthy && x.registered)
  );
}

/**
 * Whether every live node converged on `revision`. Every agent runs every desired service, so a live node
 * without the service (an agent that just started) has not converged. Pure.
 */
export function allConverged(
  nodes: NodeStatus[],
  service: string,
  revision: number,
  replicas: number,
): boolean {
  return nodes.length > 0 && nodes.every((n) => nodeConverged(n, service, revision, replicas));
}

/**
 * The cluster-mode counterpart of a single-node deploy's success: `revision` becomes the service's
 * current one and `active`, the revision that was active becomes `superseded` (a `failed` one stays
 * failed). Every agent that sees the cluster converged may call it; the compare-and-set on the desired
 * key (setting `converged`) lets exactly one of them record it per desired state. Returns whether this
 * caller did.
 */
export async function recordConverged(
  store: Store,
  repo: Repo,
  service: string,
  revision: number,
  by: string,
  now = new Date().toISOString(),
): Promise<boolean> {
  const cur = await readDesired(store, service);
  if (!cur || cur.value.revision !== revision || cur.value.converged) return false;
  const next: Desired = { ...cur.value, converged: now };
  try {
    await store.update(desiredKey(service), next, cur.revision);
  } catch (e) {
    if (e instanceof ConflictError) return false;
    throw e;
  }
  // A newer desired state makes these writes stale: checked before each (a newer convergence takes a
  // whole rollout, these writes take milliseconds).
  const still = async () => (await readDesired(store, service))?.value.revision === revision;
  const before = (await repo.getService(service))?.current ?? null;
  await repo.updateService(service, (s) => ({
    name: service,
    lastRevision: Math.max(s?.lastRevision ?? 0, revision),
    ...s,
    current: revision,
  }));
  for (const r of await repo.listRevisions(service)) {
    if (r.number === revision || r.status !== RevisionStatus.Active || !(await still())) continue;
    await repo.setRevisionStatus(service, r.number, RevisionStatus.Superseded);
  }
  if (await still()) await repo.setRevisionStatus(service, revision, RevisionStatus.Active);
  await repo.audit({
    actor: by,
    action: 'cluster.converged',
    service,
    revision,
    result: 'ok',
    message: `every node runs revision ${revision}${before !== null && before !== revision ? ` (was ${before})` : ''}`,
  });
  return true;
}
