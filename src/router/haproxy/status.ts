import type { BackendStatus, RevisionStats, RouteStatus } from '../router.js';
import { serverName } from './names.js';
import type { RouteRecord } from './record.js';
import type { ServerStat } from './stat.js';

/**
 * From `show stat` of every instance, summed: inFlight = `scur` (WebSocket tunnels included, so
 * `websockets` is 0), requests = `stot`, revision errors = `hrsp_5xx` + `econ`. HAProxy keeps no
 * latency histogram: `latency.bounds` is empty. Counters restart at 0 after a reload.
 */
export function routeStatus(r: RouteRecord, all: Map<string, ServerStat>[]): RouteStatus {
  const sum = (name: string, f: (s: ServerStat) => number): number =>
    all.reduce((n, m) => n + (m.has(name) ? f(m.get(name)!) : 0), 0);
  const backends: BackendStatus[] = r.servers.map((s) => ({
    id: s.id,
    address: s.address,
    revision: s.revision,
    weight: s.weight,
    state: s.state,
    healthy: s.healthy,
    inFlight: sum(serverName(s.id), (x) => x.scur),
    websockets: 0,
    requests: sum(serverName(s.id), (x) => x.stot),
  }));
  const revisions = new Map<number, RevisionStats>();
  for (const s of r.servers) {
    const st = revisions.get(s.revision) ?? {
      revision: s.revision,
      requests: 0,
      errors: 0,
      latency: { bounds: [], counts: [0] },
    };
    st.requests += sum(serverName(s.id), (x) => x.stot);
    st.errors += sum(serverName(s.id), (x) => x.hrsp5xx + x.econ);
    revisions.set(s.revision, st);
  }
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
