import { describe, expect, it } from 'vitest';
import { Burials, diffBackends, Pins, toActivate } from '../../src/agent/follower-diff.js';
import type { Registration } from '../../src/cluster/registry.js';
import type { BackendState } from '../../src/router/router.js';

const reg = (instance: string, port: number, revision = 1): Registration => ({
  cluster: 'default',
  service: 'web',
  protocol: 'http',
  instance,
  address: '127.0.0.1',
  port,
  priority: 1,
  annotations: {},
  revision,
});
const routed = (id: string, port: number, state: BackendState = 'active', revision = 1) => ({
  id,
  address: `127.0.0.1:${port}`,
  revision,
  state,
});
const backend = (id: string, port: number, revision = 1) => ({
  id,
  address: `127.0.0.1:${port}`,
  revision,
  weight: 1,
});

describe('registry follower diff', () => {
  it('adds what is registered and not routed', () => {
    expect(diffBackends([], [reg('a', 1), reg('b', 2)])).toEqual({
      add: [backend('a', 1), backend('b', 2)],
      drain: [],
    });
  });

  it('changes nothing when the router matches the registry', () => {
    expect(diffBackends([routed('a', 1)], [reg('a', 1)])).toEqual({ add: [], drain: [] });
  });

  it('drains active backends that vanished, leaves ones already draining alone', () => {
    expect(diffBackends([routed('a', 1), routed('b', 2), routed('c', 3, 'draining')], [reg('a', 1)])).toEqual(
      {
        add: [],
        drain: ['b'],
      },
    );
  });

  it('updates a backend whose address or revision changed (a restarted container on a new port)', () => {
    expect(diffBackends([routed('a', 1)], [reg('a', 9)])).toEqual({ add: [backend('a', 9)], drain: [] });
    expect(diffBackends([routed('a', 1)], [reg('a', 1, 2)])).toEqual({
      add: [backend('a', 1, 2)],
      drain: [],
    });
  });

  it('makes a draining backend active again when it is registered again (a restart that recovered)', () => {
    expect(diffBackends([routed('a', 1, 'draining')], [reg('a', 1)])).toEqual({
      add: [backend('a', 1)],
      drain: [],
    });
  });

  it('fails static: an empty registry set (every entry aged out at once) drains nothing', () => {
    expect(diffBackends([routed('a', 1), routed('b', 2)], [])).toEqual({ add: [], drain: [] });
  });

  it('toActivate: the registrations that are not active as registered', () => {
    expect(
      toActivate(
        [routed('a', 1), routed('b', 2, 'draining'), routed('c', 3)],
        [reg('a', 1), reg('b', 2), reg('c', 4), reg('d', 5)],
      ),
    ).toEqual([backend('b', 2), backend('c', 4), backend('d', 5)]);
  });
});

describe('pins: replacements added from drain requests', () => {
  it('a pinned id is not drained until the watch lists it or the pin expires', () => {
    const p = new Pins();
    p.pin('b', 1000);
    expect(p.filter(['a', 'b'], 500)).toEqual(['a']);
    // A set without it (a watch that is behind) changes nothing.
    p.seen([reg('a', 1)], 600);
    expect(p.has('b', 600)).toBe(true);
    // Listed once: an ordinary backend from then on.
    p.seen([reg('b', 2)], 700);
    expect(p.filter(['a', 'b'], 700)).toEqual(['a', 'b']);
  });

  it('expires: a registration that never reached the watch does not stay routed for ever', () => {
    const p = new Pins();
    p.pin('b', 1000);
    expect(p.has('b', 999)).toBe(true);
    expect(p.has('b', 1000)).toBe(false);
    p.seen([], 1000);
    expect(p.filter(['b'], 1000)).toEqual(['b']);
  });

  it('pinning again keeps the later deadline', () => {
    const p = new Pins();
    p.pin('b', 2000);
    p.pin('b', 1000);
    expect(p.has('b', 1500)).toBe(true);
  });
});

describe('burials: instances drained on request', () => {
  it('a set that still lists a buried instance does not make it active again', () => {
    const b = new Burials();
    b.bury('a', 1000);
    b.seen([reg('a', 1), reg('b', 2)], 500, 1100, 60_000);
    expect(b.filter([backend('a', 1), backend('b', 2)])).toEqual([backend('b', 2)]);
  });

  it('ends once the watch showed it gone: a later listing is a new registration', () => {
    const b = new Burials();
    b.bury('a', 1000);
    b.seen([reg('b', 2)], 500, 1100, 60_000);
    expect(b.has('a')).toBe(false);
  });

  it('ends with a watch started after the burial (it read the registry after the deregistration)', () => {
    const b = new Burials();
    b.bury('a', 1000);
    b.seen([reg('a', 1)], 1000, 1100, 60_000);
    expect(b.has('a')).toBe(true);
    b.seen([reg('a', 1)], 1001, 1100, 60_000);
    expect(b.has('a')).toBe(false);
  });

  it('ends after its maximum age', () => {
    const b = new Burials();
    b.bury('a', 1000);
    b.seen([reg('a', 1)], 0, 60_999, 60_000);
    expect(b.has('a')).toBe(true);
    b.seen([reg('a', 1)], 0, 61_000, 60_000);
    expect(b.has('a')).toBe(false);
  });
});
