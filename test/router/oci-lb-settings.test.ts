import { describe, expect, it } from 'vitest';
import { matchesFilter } from '../../src/cloud/filter.js';
import { desiredBackends } from '../../src/router/oci-lb/desired.js';
import type { RouteRecord } from '../../src/router/oci-lb/record.js';
import { healthCheckerFromProbe, parseRouteSettings } from '../../src/router/oci-lb/settings.js';
import { probeSchema } from '../../src/spec/schema.js';

describe('oci-lb settings', () => {
  it('fills the defaults (deploy-inst: health every 5 s for 120 s, a 10 s drain)', () => {
    expect(parseRouteSettings({ kind: 'oci-lb', loadBalancerId: 'ocid1.loadbalancer.oc1..x' })).toEqual({
      kind: 'oci-lb',
      loadBalancerId: 'ocid1.loadbalancer.oc1..x',
      policy: 'ROUND_ROBIN',
      healthTimeout: 120_000,
      pollInterval: 5000,
      drainPeriod: 10_000,
    });
  });

  it.each([
    [{}, '(router): expected exactly one of loadBalancerId or filter'],
    [
      { loadBalancerId: 'ocid1.loadbalancer.oc1..x', filter: { displayName: 'a' } },
      '(router): expected exactly one of loadBalancerId or filter',
    ],
    [{ filter: { displayName: 'a' } }, 'compartmentId: a filter needs the compartmentId to list in'],
    [{ loadBalancerId: 'ocid1.x', backends: [] }, 'backends: Too small'],
    [{ loadBalancerId: 'ocid1.x', drainPeriod: 'soon' }, 'drainPeriod: expected a duration'],
    [{ loadBalancerId: 'ocid1.x', healthChecker: { protocol: 'UDP' } }, 'healthChecker.protocol'],
  ])('refuses %j', (over, message) => {
    expect(() => parseRouteSettings({ kind: 'oci-lb', ...over })).toThrow(message);
  });

  it('derives the health checker of created backend sets from the probe', () => {
    const p = (v: unknown) => probeSchema.parse(v);
    expect(
      healthCheckerFromProbe(p({ http: { path: '/up', status: 204 }, interval: '500ms' }), 8080),
    ).toEqual({
      protocol: 'HTTP',
      urlPath: '/up',
      returnCode: 204,
      port: 8080,
      intervalInMillis: 1000,
      timeoutInMillis: 1000,
      retries: 3,
    });
    expect(healthCheckerFromProbe(p({ tcp: {} })).protocol).toBe('TCP');
    expect(healthCheckerFromProbe(p({ exec: { command: 'true' } })).protocol).toBe('TCP');
  });
});

describe('exact-match filter (deploy-inst)', () => {
  const lb = { displayName: 'edge', lifecycleState: 'ACTIVE', freeformTags: { env: 'prod', team: 'a' } };
  it('compares only the listed keys, each value whole', () => {
    expect(matchesFilter(lb, {})).toBe(true);
    expect(matchesFilter(lb, { displayName: 'edge' })).toBe(true);
    expect(matchesFilter(lb, { displayName: 'edge', lifecycleState: 'ACTIVE' })).toBe(true);
    expect(matchesFilter(lb, { freeformTags: { env: 'prod', team: 'a' } })).toBe(true);
    expect(matchesFilter(lb, { freeformTags: { env: 'prod' } })).toBe(false);
    expect(matchesFilter(lb, { displayName: 'Edge' })).toBe(false);
    expect(matchesFilter(lb, { shapeName: undefined })).toBe(true);
    expect(matchesFilter(lb, { shapeName: 'flexible' })).toBe(false);
  });
});

describe('desired OCI backends', () => {
  const route = (over: Partial<RouteRecord> = {}): RouteRecord => ({
    service: 'web',
    listen: '192.0.2.1:80',
    drainTimeoutMs: 1000,
    settings: parseRouteSettings({
      kind: 'oci-lb',
      loadBalancerId: 'ocid1.x',
      backends: [{ port: 80, backendSet: 'http' }, { backendSet: 'alt' }],
    }),
    loadBalancerId: 'ocid1.x',
    split: null,
    mode: { kind: 'serve' },
    backends: [
      { id: 'a', address: '10.0.0.5:8080', revision: 1, weight: 1, state: 'active', healthy: true },
      { id: 'b', address: '10.0.0.6:8080', revision: 1, weight: 1, state: 'draining', healthy: true },
      { id: 'c', address: '10.0.0.7:8080', revision: 2, weight: 1, state: 'standby', healthy: true },
      { id: 'd', address: '10.0.0.8:8080', revision: 2, weight: 1, state: 'active', healthy: false },
    ],
    ...over,
  });
  const view = (r: RouteRecord) =>
    desiredBackends(r).map(
      (d) => `${d.backendSet} ${d.name} w${d.weight}${d.drain ? ' drain' : ''}${d.offline ? ' offline' : ''}`,
    );

  it('one per backend × {port, backendSet}; draining drains; standby, unhealthy and maintenance are offline', () => {
    expect(view(route())).toEqual([
      'http 10.0.0.5:80 w1',
      'alt 10.0.0.5:8080 w1',
      'http 10.0.0.6:80 w1 drain',
      'alt 10.0.0.6:8080 w1 drain',
      'http 10.0.0.7:80 w1 offline',
      'alt 10.0.0.7:8080 w1 offline',
      'http 10.0.0.8:80 w1 offline',
      'alt 10.0.0.8:8080 w1 offline',
    ]);
    expect(view(route({ mode: { kind: 'maintenance' } })).every((l) => l.endsWith('offline'))).toBe(true);
  });
});
