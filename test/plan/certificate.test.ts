import { describe, expect, it } from 'vitest';
import { missingCertificates } from '../../src/certs/certificates.js';
import { plan } from '../../src/plan/plan.js';

const base = {
  service: 's',
  deployment: 'd1',
  revision: 2,
  replicas: 1,
  strategy: { type: 'replace' as const },
  observed: [],
};

describe('certificate step (pure planning)', () => {
  it('comes first, before any instance starts, when hosts need a certificate', () => {
    const p = plan({ ...base, certificates: ['a.test', 'b.test'] });
    expect(p.steps[0]).toEqual({ op: 'certificate', hosts: ['a.test', 'b.test'] });
    expect(p.steps[1]!.op).toBe('start');
  });

  it('is absent when every host has one, and before pre-deploy hooks when present', () => {
    expect(plan({ ...base, certificates: [] }).steps.some((s) => s.op === 'certificate')).toBe(false);
    const withHook = plan({ ...base, certificates: ['a.test'], hooks: ['pre-deploy'] });
    expect(withHook.steps.slice(0, 2).map((s) => s.op)).toEqual(['certificate', 'hook']);
  });

  it('missingCertificates: only tls: auto hosts without a usable certificate, lower-cased', () => {
    const has = (h: string) => h === 'old.test';
    expect(missingCertificates({ tls: 'auto', hosts: ['Old.test', 'New.test'] }, { has })).toEqual([
      'new.test',
    ]);
    expect(missingCertificates({ tls: { cert: 'c', key: 'k' }, hosts: ['x.test'] }, { has })).toEqual([]);
    expect(missingCertificates({ tls: 'auto', hosts: ['x.test'] }, undefined)).toEqual([]);
  });
});
