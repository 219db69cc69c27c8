import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CertWatcher } from '../../src/router/proxy/certs.js';
import { selfSigned } from '../helpers/certs.js';
import { tempDir } from './helpers.js';

describe('a certificate as the proxy serves it (CertWatcher)', () => {
  let dir: { dir: string; remove: () => Promise<void> };
  beforeAll(async () => {
    dir = await tempDir();
  });
  afterAll(() => dir?.remove());

  it('answers which names it covers, wildcards as TLS has them, and forgets its answers when the files are replaced', () => {
    const files = selfSigned(dir.dir, 'site', ['a.test', '*.b.test'], { atomic: true });
    const w = new CertWatcher(files, pino({ level: 'silent' }), ['http/1.1']);
    w.refresh();
    // Asked twice each: the second answer comes from the memo and must be the same.
    for (let i = 0; i < 2; i++) {
      expect(['a.test', 'x.b.test', 'b.test', 'y.x.b.test', 'c.test'].map((h) => w.covers(h))).toEqual([
        true,
        true,
        false,
        false,
        false,
      ]);
    }
    // Replaced on disk by a certificate for other names (a new inode: the watcher sees the change).
    selfSigned(dir.dir, 'site', ['c.test'], { atomic: true });
    w.refresh();
    expect(['a.test', 'x.b.test', 'c.test'].map((h) => w.covers(h))).toEqual([false, false, true]);
  });

  it('keeps answering for more names than it remembers', () => {
    const files = selfSigned(dir.dir, 'many', ['*.many.test']);
    const w = new CertWatcher(files, pino({ level: 'silent' }), ['http/1.1']);
    w.refresh();
    for (let i = 0; i < 3000; i++) expect(w.covers(`n${i}.many.test`)).toBe(true);
    expect(w.covers('many.test')).toBe(false);
  });
});
