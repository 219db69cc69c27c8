import { describe, expect, it } from 'vitest';
import { diffBackends } from '../../src/agent/follower-diff.js';
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
});
