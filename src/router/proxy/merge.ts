import type { ListenerStats, RevisionStats, RouteStatus } from '../router.js';

interface Kept {
  /** Requests per backend id. */
  requests: Map<string, number>;
  revisions: Map<number, RevisionStats>;
}

/**
 * Sums the workers' views of a route into one status. The structure (listen, states, weights, split, mode)
 * comes from the primary's table; the live figures from the workers: in-flight requests, WebSockets and
 * held requests are summed, a backend is healthy when no worker has it out of rotation (passive health),
 * request counters and latency histograms are summed. The counters of workers that died are kept, so the
 * figures the canary judge reads never go backwards when a worker is replaced.
 */
export class StatusMerger {
  private readonly kept = new Map<string, Kept>();

  /** Keeps the counters a worker last reported before it died. */
  retire(last: RouteStatus[]): void {
    for (const r of last) {
      let k = this.kept.get(r.service);
      if (k === undefined) {
        k = { requests: new Map(), revisions: new Map() };
        this.kept.set(r.service, k);
      }
      for (const b of r.backends) k.requests.set(b.id, (k.requests.get(b.id) ?? 0) + b.requests);
      for (const rev of r.revisions) addRevision(k.revisions, rev);
    }
  }

  /** Forgets the kept counters of a removed route. */
  forget(service: string): void {
    this.kept.delete(service);
  }

  merge(base: RouteStatus, parts: Array<RouteStatus | undefined>): RouteStatus {
    const kept = this.kept.get(base.service);
    const backends = new Map(base.backends.map((b) => [b.id, { ...b }]));
    if (kept) {
      for (const [id, n] of kept.requests) {
        const b = backends.get(id);
        if (b) b.requests += n;
      }
    }
    const revisions = new Map<number, RevisionStats>();
    for (const r of base.revisions) revisions.set(r.revision, copyRevision(r));
    if (kept) for (const r of kept.revisions.values()) addRevision(revisions, r, true);
    const listeners = (base.listeners ?? []).map((l) => ({ ...l }));
    let held = 0;
    // Certificates are loaded where the listeners are (the workers): any worker's list will do.
    let certificates = base.certificates;
    for (const p of parts) {
      if (p === undefined) continue;
      held += p.held ?? 0;
      if (certificates === undefined && p.certificates !== undefined) certificates = p.certificates;
      for (const l of p.listeners ?? []) addListener(listeners, l);
      for (const b of p.backends) {
        const into = backends.get(b.id);
        if (into === undefined) continue;
        into.inFlight += b.inFlight;
        into.websockets += b.websockets;
        into.requests += b.requests;
        if (!b.healthy) into.healthy = false;
      }
      for (const r of p.revisions) addRevision(revisions, r, true);
    }
    return {
      ...base,
      held,
      backends: [...backends.values()],
      revisions: [...revisions.values()],
      ...(base.listeners === undefined ? {} : { listeners }),
      ...(certificates === undefined ? {} : { certificates }),
    };
  }
}

function copyRevision(r: RevisionStats): RevisionStats {
  return {
    revision: r.revision,
    requests: r.requests,
    errors: r.errors,
    latency: { bounds: [...r.latency.bounds], counts: [...r.latency.counts], sumMs: r.latency.sumMs ?? 0 },
    classes: [...(r.classes ?? [0, 0, 0, 0, 0, 0])],
    connectErrors: r.connectErrors ?? 0,
    retries: r.retries ?? 0,
  };
}

/** Adds a worker's connection counts into the listener of the same role (a worker's kept ones are not: open is live). */
function addListener(into: ListenerStats[], l: ListenerStats): void {
  const t = into.find((x) => x.role === l.role);
  if (t === undefined) return;
  t.accepted += l.accepted;
  t.open += l.open;
  t.handshakes = (t.handshakes ?? 0) + (l.handshakes ?? 0);
  t.handshakeErrors = (t.handshakeErrors ?? 0) + (l.handshakeErrors ?? 0);
}

/** Adds `r` into `into`; with `known`, only into revisions the route still has. */
function addRevision(into: Map<number, RevisionStats>, r: RevisionStats, known = false): void {
  const t = into.get(r.revision);
  if (t === undefined) {
    if (!known) into.set(r.revision, copyRevision(r));
    return;
  }
  t.requests += r.requests;
  t.errors += r.errors;
  const counts = t.latency.counts;
  for (let i = 0; i < counts.length; i++) counts[i]! += r.latency.counts[i] ?? 0;
  t.latency.sumMs = (t.latency.sumMs ?? 0) + (r.latency.sumMs ?? 0);
  t.classes ??= [0, 0, 0, 0, 0, 0];
  const classes = t.classes;
  for (let i = 0; i < classes.length; i++) classes[i]! += r.classes?.[i] ?? 0;
  t.connectErrors = (t.connectErrors ?? 0) + (r.connectErrors ?? 0);
  t.retries = (t.retries ?? 0) + (r.retries ?? 0);
}
