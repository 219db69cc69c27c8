import { describe, expect, it } from 'vitest';
import { CarriedCounters } from '../../src/router/proxy/handoff/carry.js';
import type { RouteStatus } from '../../src/router/router.js';

const latency = (n: number) => ({ bounds: [10], counts: [n, 0], sumMs: n });
const status = (requests: number, accepted: number, handshakes?: number): RouteStatus =>
  ({
    service: 'web',
    listen: '127.0.0.1:1',
    held: 0,
    backends: [
      {
        id: 'a',
        address: '127.0.0.1:2',
        revision: 1,
        weight: 1,
        state: 'active',
        healthy: true,
        inFlight: 0,
        websockets: 0,
        requests,
      },
    ],
    revisions: [
      { revision: 1, requests, errors: 0, latency: latency(requests), classes: [0, 0, requests, 0, 0, 0] },
    ],
    listeners: [
      {
        role: 'main',
        address: '127.0.0.1:1',
        accepted,
        open: 3,
        ...(handshakes === undefined ? {} : { tls: true, handshakes, handshakeErrors: 1 }),
      },
    ],
  }) as RouteStatus;

describe('counters carried over a proxy handoff', () => {
  it('adds the predecessor totals to requests, latency, classes, connections and handshakes; never the live figures', () => {
    const c = new CarriedCounters();
    c.set([status(100, 40, 30)]);
    const out = c.apply(status(5, 2, 2));
    expect(out.backends[0]!.requests).toBe(105);
    expect(out.revisions[0]!.requests).toBe(105);
    expect(out.revisions[0]!.classes?.[2]).toBe(105);
    expect(out.revisions[0]!.latency.counts[0]).toBe(105);
    expect(out.listeners?.[0]).toMatchObject({ accepted: 42, open: 3, handshakes: 32, handshakeErrors: 2 });
  });

  it('a later report replaces an earlier one; connection counts never drop when the predecessor lost its workers', () => {
    const c = new CarriedCounters();
    c.set([status(100, 40, 30)]);
    // The final report once the old workers exited: requests kept, connection figures gone with them.
    c.set([{ ...status(120, 0, 0) }]);
    const out = c.apply(status(0, 0, 0));
    expect(out.backends[0]!.requests).toBe(120);
    expect(out.listeners?.[0]).toMatchObject({ accepted: 40, handshakes: 30 });
  });
});
