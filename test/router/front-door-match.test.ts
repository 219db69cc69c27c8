import { describe, expect, it } from 'vitest';
import { hostProblem } from '../../src/router/host-name.js';
import { claimConflict, normalHost, pick, prefixMatches } from '../../src/router/proxy/match.js';

const c = (service: string, hosts: string[], pathPrefix = '/') => ({ service, hosts, pathPrefix });

describe('host and path matching', () => {
  const claims = [c('a', ['a.test']), c('api', ['a.test'], '/api'), c('w', ['*.a.test']), c('def', [])];
  const to = (host: string, path = '/') => pick(claims, host, path)?.service;

  it('exact before wildcard before default; case and port ignored; one label per wildcard', () => {
    expect(to('a.test')).toBe('a');
    expect(to('A.TEST:8443')).toBe('a');
    expect(to('a.test.')).toBe('a');
    expect(to('x.a.test')).toBe('w');
    expect(to('x.y.a.test')).toBe('def');
    expect(to('other')).toBe('def');
    expect(pick([c('a', ['a.test'])], 'b.test', '/')).toBeUndefined();
    expect(normalHost('[::1]:80')).toBe('[::1]');
  });

  it('longest prefix, segment-wise', () => {
    expect(to('a.test', '/api')).toBe('api');
    expect(to('a.test', '/api/v1')).toBe('api');
    expect(to('a.test', '/api?x=1')).toBe('api');
    expect(to('a.test', '/apix')).toBe('a');
    expect(prefixMatches('/api', '/ap')).toBe(false);
  });

  it('conflicts: the same host and prefix, or two defaults', () => {
    expect(claimConflict(c('x', ['a.test']), claims)?.service).toBe('a');
    expect(claimConflict(c('x', ['a.test'], '/v2'), claims)).toBeUndefined();
    expect(claimConflict(c('x', []), claims)?.service).toBe('def');
  });

  it('host names: no scheme, port or path; a wildcard only as the first label', () => {
    expect(hostProblem('app.example.com')).toBeUndefined();
    expect(hostProblem('*.example.com')).toBeUndefined();
    expect(hostProblem('https://a.test')).toMatch(/without scheme/);
    expect(hostProblem('a.test:80')).toMatch(/without port/);
    expect(hostProblem('a.*.test')).toMatch(/wildcard/);
    expect(hostProblem('*.com')).toMatch(/wildcard/);
    expect(hostProblem('a_b.test')).toMatch(/DNS labels/);
  });
});
