import type { ListenerStats, RouteStatus } from '../../router.js';
import { StatusMerger } from '../merge.js';

type ListenerTotals = Pick<ListenerStats, 'accepted' | 'handshakes' | 'handshakeErrors'>;

/**
 * The counters of the proxies this one replaced, added to its own so that figures (the canary judge's,
 * `/metrics`' `baton_proxy_*_total`) never go backwards across a handoff: requests and latency per
 * backend and revision (as a worker's after it died, see `StatusMerger`), and connections and TLS
 * handshakes per listening address. Live figures (in flight, open, held) are never carried.
 */
export class CarriedCounters {
  private merger = new StatusMerger();
  private listeners = new Map<string, ListenerTotals>();

  /**
   * The predecessor's totals (which include what it carried itself); a later report (its final one,
   * once drained) replaces an earlier one, as it only grew. Connection counts are kept per address at
   * their highest: a predecessor whose workers exited reports none (the workers' live figures are gone).
   */
  set(carry: RouteStatus[]): void {
    const merger = new StatusMerger();
    merger.retire(carry);
    const listeners = new Map<string, ListenerTotals>();
    for (const r of carry)
      for (const l of r.listeners ?? []) {
        // Services sharing a listener each report its counters: one address counts once.
        const key = `${l.role} ${l.address}`;
        if (listeners.has(key)) continue;
        const was = this.listeners.get(key);
        listeners.set(key, {
          accepted: Math.max(l.accepted, was?.accepted ?? 0),
          handshakes: Math.max(l.handshakes ?? 0, was?.handshakes ?? 0),
          handshakeErrors: Math.max(l.handshakeErrors ?? 0, was?.handshakeErrors ?? 0),
        });
      }
    this.merger = merger;
    this.listeners = listeners;
  }

  apply(s: RouteStatus): RouteStatus {
    const out = { ...this.merger.merge(s, []), held: s.held };
    if (out.listeners)
      out.listeners = out.listeners.map((l) => {
        const c = this.listeners.get(`${l.role} ${l.address}`);
        if (!c) return l;
        return {
          ...l,
          accepted: l.accepted + c.accepted,
          ...(l.tls
            ? {
                handshakes: (l.handshakes ?? 0) + (c.handshakes ?? 0),
                handshakeErrors: (l.handshakeErrors ?? 0) + (c.handshakeErrors ?? 0),
              }
            : {}),
        };
      });
    return out;
  }
}
