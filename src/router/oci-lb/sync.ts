import type { Clock } from '../../cloud/clock.js';
import { pollUntil } from '../../cloud/poll.js';
import { DriverError } from '../../core/errors.js';
import type { LbChange } from './changes.js';
import type { DesiredBackend } from './desired.js';
import type { LbApi } from './lb.js';
import type { RouteRecord } from './record.js';

/** Runs changes in order; each write waits for its work request (in `LbApi`). */
export async function runChanges(
  api: LbApi,
  clock: Clock,
  r: RouteRecord,
  changes: LbChange[],
): Promise<void> {
  const id = r.loadBalancerId;
  for (const c of changes) {
    if (c.kind === 'create-backend-set') await api.createBackendSet(id, c.name, c.policy, c.healthChecker);
    else if (c.kind === 'create-backend') await api.createBackend(id, c.d);
    else if (c.kind === 'update-backend') await api.updateBackend(id, c.d);
    else if (c.kind === 'delete-backend') await api.deleteBackend(id, c.backendSet, c.name);
    else await waitHealthy(api, clock, r, c.d);
  }
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
