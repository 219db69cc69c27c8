import type { Clock } from '../../cloud/clock.js';
import { pollUntil } from '../../cloud/poll.js';
import { DriverError } from '../../core/errors.js';
import { type DesiredBackend, desiredBackends, serving } from './desired.js';
import type { LbApi } from './lb.js';
import type { RouteRecord } from './record.js';

/**
 * Brings OCI to the record: serving backends first (created or updated, each waiting for its work
 * request), then — once every backend that just started serving is OK in OCI's health check — the
 * others (drain, offline). So traffic moves to a new set only after it is healthy, and the old set keeps
 * serving if it never is. Backends whose fields already match are not touched (one read, no change).
 */
export async function applyRoute(api: LbApi, clock: Clock, r: RouteRecord): Promise<void> {
  const lb = await api.get(r.loadBalancerId);
  const current = (d: DesiredBackend) =>
    lb.backendSets?.[d.backendSet]?.backends.find((b) => b.name === d.name);
  const desired = desiredBackends(r);
  const started: DesiredBackend[] = [];
  const sync = async (d: DesiredBackend) => {
    const cur = current(d);
    if (!cur) await api.createBackend(r.loadBalancerId, d);
    else if (cur.weight !== d.weight || cur.drain !== d.drain || cur.offline !== d.offline || cur.backup)
      await api.updateBackend(r.loadBalancerId, d);
    else return;
    if (serving(d) && (!cur || !serving(cur))) started.push(d);
  };
  for (const d of desired.filter(serving)) await sync(d);
  for (const d of started) await waitHealthy(api, clock, r, d);
  for (const d of desired.filter((x) => !serving(x))) await sync(d);
}

/** deploy-inst's wait: GetBackendHealth until OK; a 404 (still being created) means not yet. */
async function waitHealthy(api: LbApi, clock: Clock, r: RouteRecord, d: DesiredBackend): Promise<void> {
  const timeoutMs = r.settings.healthTimeout;
  await pollUntil(
    () => api.health(r.loadBalancerId, d.backendSet, d.name),
    (s) => s === 'OK',
    {
      clock,
      intervalMs: r.settings.pollInterval,
      timeoutMs,
      onTimeout: (s) =>
        new DriverError(
          'oci-lb',
          `backend ${d.name} (${d.owner.id}) in backend set ${d.backendSet} not OK after ${timeoutMs} ms: last health ${s ?? 'not found (404)'}`,
        ),
    },
  );
}

/** Deletes these OCI backends one by one, each waiting for its work request; gone ones are fine. */
export async function deleteBackends(api: LbApi, r: RouteRecord, list: DesiredBackend[]): Promise<void> {
  for (const d of list) await api.deleteBackend(r.loadBalancerId, d.backendSet, d.name);
}
