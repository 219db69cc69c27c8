import type { BackendStatus, RevisionStats, RouteStatus } from '../router.js';
import type { RouteRecord } from './record.js';

/**
 * From Baton's record (what the driver last applied; ALB accepted each change). ALB's per-target
 * request counts live in CloudWatch metrics, not in the ELBv2 API: counters are 0 and latency has no
 * bounds here, so a canary's analysis gets no signal from this router yet.
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
    ...(r.preview !== undefined ? { preview: r.preview } : {}),
    previewRevision: r.previewRevision,
    split: structuredClone(r.split),
    mode: structuredClone(r.mode),
    held: 0,
    backends,
    revisions: [...revisions.values()].sort((a, b) => a.revision - b.revision),
  };
}
