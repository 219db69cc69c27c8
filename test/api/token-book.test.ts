import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { AuthLimiter } from '../../src/api/auth-limiter.js';
import { checkListen, isLoopback } from '../../src/api/listen.js';
import { TokenBook } from '../../src/api/token-book.js';
import { MemoryStore } from '../../src/store/fake/memory-store.js';

describe('TokenBook', () => {
  it('stores only the hash, shows the secret once, and verifies it', async () => {
    const store = new MemoryStore();
    const book = new TokenBook(store);
    const { secret, token } = await book.create({ name: 'team-a', role: 'deployer', services: ['team-a-*'] });
    expect(secret).toMatch(/^baton_team-a_[A-Za-z0-9_-]{43}$/);
    const stored = JSON.stringify(await store.list('tokens.'));
    expect(stored).not.toContain(secret);
    expect(stored).toContain(createHash('sha256').update(secret).digest('hex'));
    expect(JSON.stringify(await book.list())).not.toContain('hash');
    expect(token).toMatchObject({ name: 'team-a', role: 'deployer', services: ['team-a-*'] });
    expect(await book.verify(secret)).toEqual({
      ok: true,
      principal: { name: 'team-a', role: 'deployer', services: ['team-a-*'] },
    });
    // One character off, another token's name, garbage: all unknown.
    const off = `${secret.slice(0, -1)}${secret.endsWith('A') ? 'B' : 'A'}`;
    expect(await book.verify(off)).toEqual({ ok: false, reason: 'unknown' });
    expect(await book.verify(secret.replace('team-a', 'team-b'))).toEqual({ ok: false, reason: 'unknown' });
    expect(await book.verify('nonsense')).toEqual({ ok: false, reason: 'unknown' });
    await expect(book.create({ name: 'team-a', role: 'viewer' })).rejects.toThrow(/exists/);
    await expect(book.create({ name: 'local-admin', role: 'viewer' })).rejects.toThrow(/data dir/);
    await expect(book.create({ name: 'x', role: 'root' as never })).rejects.toThrow(/role "root"/);
  });

  it('an expired token is refused from its expiry on; a revoked one at once; last use is recorded', async () => {
    let now = Date.parse('2026-01-01T00:00:00Z');
    const book = new TokenBook(new MemoryStore(), () => now);
    const short = await book.create({ name: 'short', role: 'viewer', expiresInMs: 60_000 });
    const other = await book.create({ name: 'other', role: 'viewer' });
    expect((await book.verify(short.secret)).ok).toBe(true);
    expect((await book.list()).find((t) => t.name === 'short')?.lastUsedAt).toBe('2026-01-01T00:00:00.000Z');
    now += 60_000;
    expect(await book.verify(short.secret)).toEqual({ ok: false, reason: 'expired', token: 'short' });
    expect((await book.verify(other.secret)).ok).toBe(true);
    await book.revoke('other');
    expect(await book.verify(other.secret)).toEqual({ ok: false, reason: 'unknown' });
    await expect(book.revoke('other')).rejects.toThrow(/token other not found/);
  });
});

describe('AuthLimiter', () => {
  it('blocks an address after max failures until its window ends; other addresses are not affected', () => {
    let now = 0;
    const l = new AuthLimiter({ max: 3, windowMs: 1000, now: () => now });
    for (let i = 0; i < 3; i++) {
      expect(l.blockedFor('10.0.0.1')).toBe(0);
      l.fail('10.0.0.1');
    }
    expect(l.blockedFor('10.0.0.1')).toBe(1000);
    expect(l.blockedFor('10.0.0.2')).toBe(0);
    now = 999;
    expect(l.blockedFor('10.0.0.1')).toBe(1);
    now = 1000;
    expect(l.blockedFor('10.0.0.1')).toBe(0);
  });
});

describe('checkListen', () => {
  it('loopback is fine; beyond it needs TLS or --insecure-listen', () => {
    for (const h of ['127.0.0.1', 'localhost', '::1', '127.1.2.3']) expect(isLoopback(h)).toBe(true);
    expect(() => checkListen('127.0.0.1:7607', { tls: false, insecure: false })).not.toThrow();
    expect(() => checkListen('[::1]:7607', { tls: false, insecure: false })).not.toThrow();
    expect(() => checkListen('0.0.0.0:7607', { tls: false, insecure: false })).toThrow(
      /--listen 0.0.0.0:7607 is beyond this machine.*--tls-cert FILE and --tls-key FILE, or --insecure-listen/,
    );
    expect(() => checkListen('0.0.0.0:7607', { tls: true, insecure: false })).not.toThrow();
    expect(() => checkListen('10.1.2.3:7607', { tls: false, insecure: true })).not.toThrow();
    expect(() => checkListen('nonsense', { tls: false, insecure: false })).toThrow(/expected host:port/);
  });
});
