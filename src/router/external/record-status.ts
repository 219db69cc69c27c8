import type { BackendStatus, RevisionStats, RouteStatus } from '../router.js';
import type { BackendRecord, RouteRecordBase } from './record.js';

/** Counters a load balancer reports for one backend (0 where it reports none). */
export interface BackendCounters {
  inFlight: number;
  requests: number;
  errors: number;
}

const NONE: BackendCounters = { inFlight: 0, requests: 0, errors: 0 };

/**
 * A route's status from Baton's record, with the counters the load balancer gives per backend (none:
 * 0). No external router has a latency histogram: `latency.bounds` is empty, so canary analysis judges
 * on error counts alone where there are any. WebSocket tunnels are counted in `inFlight`.
 */
export function recordStatus<B extends BackendRecord>(
  r: RouteRecordBase<B>,
  counters: (b: B) => BackendCounters = () => NONE,
  extra: Pick<RouteStatus, 'preview'> = {},
): RouteStatus {
  const revisions = new Map<number, RevisionStats>();
  const backends: BackendStatus[] = r.backends.map((b) => {
    const c = counters(b);
    const st = revisions.get(b.revision) ?? {
      revision: b.revision,
      requests: 0,
      errors: 0,
      latency: { bounds: [], counts: [0] },
    };
    st.requests += c.requests;
    st.errors += c.errors;
    revisions.set(b.revision, st);
    const { id, address, revision, weight, state, healthy } = b;
    return {
      id,
      address,
      revision,
      weight,
      state,
      healthy,
      inFlight: c.inFlight,
      websockets: 0,
      requests: c.requests,
    };
  });
  return {
    service: r.service,
    listen: r.listen,
    ...extra,
    previewRevision: r.previewRevision ?? null,
    split: structuredClone(r.split),
    mode: structuredClone(r.mode),
    held: 0,
    backends,
    revisions: [...revisions.values()].sort((a, b) => a.revision - b.revision),
  };
}
