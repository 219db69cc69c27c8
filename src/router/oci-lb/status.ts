import type { BackendStatus, RevisionStats, RouteStatus } from '../router.js';
import type { RouteRecord } from './record.js';

/**
 * A route's status from Baton's record. OCI's API gives no per-backend request, connection or latency
 * counters, so those are 0 and `latency.bounds` is empty: canary analysis gets no signal from this router.
 */
export function routeStatus(r: RouteRecord): RouteStatus {
  const backends: BackendStatus[] = r.backends.map((b) => ({
    id: b.id,
    address: b.address,
    revision: b.revision,
    weight: b.weight,
    state: b.state,
    healthy: b.healthy,
    inFlight: 0,
    websockets: 0,
    requests: 0,
  }));
  const revisions = new Map<number, RevisionStats>();
  for (const b of r.backends)
    revisions.set(b.revision, {
      revision: b.revision,
      requests: 0,
      errors: 0,
      latency: { bounds: [], counts: [0] },
    });
  return {
    service: r.service,
    listen: r.listen,
    previewRevision: null,
    split: structuredClone(r.split),
    mode: structuredClone(r.mode),
    held: 0,
    backends,
    revisions: [...revisions.values()].sort((a, b) => a.revision - b.revision),
  };
}
