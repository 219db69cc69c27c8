import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CertIssueError, type Issuer } from '../../src/certs/acme-issuer.js';
import type { CertInfo } from '../../src/certs/cert-files.js';
import { CertManager } from '../../src/certs/cert-manager.js';
import { renewAt, retryDelay } from '../../src/certs/renewal-schedule.js';

const DAY = 86_400_000;

describe('renewal schedule (pure)', () => {
  it('is due at two thirds of the lifetime, jitter only earlier and within 1/20 of it', () => {
    expect(renewAt(0, 90 * DAY, 0)).toBe(60 * DAY);
    expect(renewAt(0, 90 * DAY, 0.999)).toBeGreaterThan(60 * DAY - 4.5 * DAY);
    expect(renewAt(0, 90 * DAY, 0.5)).toBe(60 * DAY - 2.25 * DAY);
  });

  it('backs off exponentially with jitter, capped, never below Retry-After', () => {
    const p = { baseMs: 1000, maxMs: 8000 };
    expect(retryDelay(1, undefined, 0, p)).toBe(500);
    expect(retryDelay(1, undefined, 1, p)).toBe(1000);
    expect(retryDelay(3, undefined, 1, p)).toBe(4000);
    expect(retryDelay(10, undefined, 1, p)).toBe(8000);
    expect(retryDelay(1, 3600, 1, p)).toBe(3_600_000);
  });
});

/** A fake CA (the scheduling logic only; the exchange itself is tested against Pebble). */
class ScriptedIssuer implements Issuer {
  calls: string[] = [];
  failures: Error[] = [];
  pending: Array<() => void> = [];
  hold = false;
  constructor(private readonly clock: { t: number }) {}
  async issue(host: string): Promise<CertInfo> {
    this.calls.push(host);
    if (this.hold) await new Promise<void>((r) => this.pending.push(r));
    const f = this.failures.shift();
    if (f) throw f;
    const nb = this.clock.t;
    return {
      host,
      names: [host],
      issuer: 'CN=fake',
      notBefore: new Date(nb).toISOString(),
      notAfter: new Date(nb + 90 * DAY).toISOString(),
      serial: String(this.calls.length),
    };
  }
}

describe('CertManager scheduling (virtual clock)', () => {
  let dir: string;
  const t = { t: Date.parse('2026-01-01T00:00:00Z') };
  const clock = { now: () => t.t, sleep: async () => {} };
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'baton-renew-'));
    t.t = Date.parse('2026-01-01T00:00:00Z');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const manager = (issuer: Issuer) =>
    new CertManager({
      dataDir: dir,
      issuer,
      clock,
      random: () => 0,
      backoff: { baseMs: 60_000, maxMs: 3600_000 },
    });

  it('renews in the background only once due (two thirds), then schedules the next', async () => {
    const issuer = new ScriptedIssuer(t);
    const m = manager(issuer);
    await m.ensure('a.test');
    expect(m.nextWakeAt()).toBe(t.t + 60 * DAY);
    t.t += 59 * DAY;
    expect(m.tick()).toHaveLength(0);
    t.t += 1 * DAY;
    await Promise.all(m.tick());
    expect(issuer.calls).toEqual(['a.test', 'a.test']);
    expect(m.list()[0]).toMatchObject({ host: 'a.test', state: 'valid', lastError: null });
    expect(m.list()[0]!.lastRenewal).toBe(new Date(t.t).toISOString());
    expect(m.nextWakeAt()).toBe(t.t + 60 * DAY);
  });

  it('one order in flight per name: ticks and ensure() during an order join it', async () => {
    const issuer = new ScriptedIssuer(t);
    const m = manager(issuer);
    await m.ensure('a.test');
    t.t += 61 * DAY;
    issuer.hold = true;
    const started = m.tick();
    expect(started).toHaveLength(1);
    expect(m.tick()).toHaveLength(0);
    const forced = m.renew('a.test');
    expect(m.list()[0]!.state).toBe('issuing');
    for (const r of issuer.pending) r();
    await Promise.all([...started, forced]);
    expect(issuer.calls).toEqual(['a.test', 'a.test']);
  });

  it('backs off after errors, honours the CA’s Retry-After, records and clears the last error', async () => {
    const issuer = new ScriptedIssuer(t);
    const m = manager(issuer);
    await m.ensure('a.test');
    t.t += 61 * DAY;
    issuer.failures.push(new CertIssueError('a.test', 'connect ECONNREFUSED', undefined));
    await Promise.all(m.tick());
    let s = m.list()[0]!;
    expect(s).toMatchObject({ state: 'failed', lastError: 'certificate for a.test: connect ECONNREFUSED' });
    expect(m.nextWakeAt()).toBe(t.t + 30_000); // attempt 1: base/2 with random 0
    t.t += 29_999;
    expect(m.tick()).toHaveLength(0);
    t.t += 1;
    issuer.failures.push(new CertIssueError('a.test', 'rateLimited: too many', 7200));
    await Promise.all(m.tick());
    expect(m.nextWakeAt()).toBe(t.t + 7_200_000); // Retry-After beats the 60 s backoff
    t.t += 7_200_000;
    await Promise.all(m.tick());
    s = m.list()[0]!;
    expect(s).toMatchObject({ state: 'valid', lastError: null, nextAttemptAt: null });
    expect(issuer.calls).toHaveLength(4);
  });

  it('a first issue that failed is not retried by the background (the next deploy asks again)', async () => {
    const issuer = new ScriptedIssuer(t);
    issuer.failures.push(new CertIssueError('new.test', 'CA down', undefined));
    const m = manager(issuer);
    await expect(m.ensure('new.test')).rejects.toThrow('CA down');
    expect(m.list()[0]).toMatchObject({ host: 'new.test', state: 'failed', notAfter: null });
    expect(m.nextWakeAt()).toBeUndefined();
    expect(m.tick()).toHaveLength(0);
  });
});
