import { spawn } from 'node:child_process';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConflictError } from '../../src/core/errors.js';
import { openStore } from '../../src/store/open.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { tempDir } from './temp.js';

describe('SqliteStore on a shared file', () => {
  let dir: string;
  let remove: () => void;
  const open: SqliteStore[] = [];
  const opened = (): SqliteStore => {
    const s = SqliteStore.open(dir);
    open.push(s);
    return s;
  };

  beforeEach(() => {
    ({ dir, remove } = tempDir());
  });
  afterEach(async () => {
    for (const s of open.splice(0)) await s.close();
    remove();
  });

  it('lets exactly one of two connections win a compare-and-set race', async () => {
    const a = opened();
    const b = opened();
    await a.create('services.web', { by: 'none' });
    const ra = (await a.get('services.web'))!.revision;
    const rb = (await b.get('services.web'))!.revision;
    expect(ra).toBe(rb);
    const results = await Promise.allSettled([
      a.update('services.web', { by: 'a' }, ra),
      b.update('services.web', { by: 'b' }, rb),
    ]);
    const won = results.filter((r) => r.status === 'fulfilled');
    const lost = results.filter((r) => r.status === 'rejected');
    expect(won).toHaveLength(1);
    expect(lost).toHaveLength(1);
    expect((lost[0] as PromiseRejectedResult).reason).toBeInstanceOf(ConflictError);
    const winner = results[0]!.status === 'fulfilled' ? 'a' : 'b';
    expect((await a.get('services.web'))?.value).toEqual({ by: winner });
    expect(await b.get('services.web')).toEqual(await a.get('services.web'));
  });

  it('shares one revision sequence and per-log numbering between connections', async () => {
    const a = opened();
    const b = opened();
    const r1 = await a.create('x', 1);
    const r2 = await b.create('y', 1);
    expect(r2).toBeGreaterThan(r1);
    expect(await a.append('audit', 'a')).toBe(1);
    expect(await b.append('audit', 'b')).toBe(2);
    expect((await a.read<string>('audit')).map((r) => r.value)).toEqual(['a', 'b']);
  });

  it('keeps data, revisions and logs across close and reopen', async () => {
    const first = SqliteStore.open(dir);
    const rev = await first.create('services.web', { replicas: 2, env: { A: '1' } });
    await first.append('journal.d1', { step: 1 });
    await first.close();
    await expect(first.get('services.web')).rejects.toMatchObject({ code: 'DRIVER' });

    const again = openStore(dir);
    expect(await again.get('services.web')).toEqual({
      key: 'services.web',
      value: { replicas: 2, env: { A: '1' } },
      revision: rev,
    });
    expect(await again.append('journal.d1', { step: 2 })).toBe(2);
    await again.delete('services.web');
    expect(await again.create('services.web', {})).toBeGreaterThan(rev);
    await again.close();
  });

  it('uses WAL and records its schema version', async () => {
    await opened().close();
    const db = new Database(path.join(dir, 'baton.db'), { readonly: true });
    try {
      expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
      expect(db.pragma('user_version', { simple: true })).toBe(1);
    } finally {
      db.close();
    }
  });

  it('refuses a database written by a newer schema', () => {
    const db = new Database(path.join(dir, 'baton.db'));
    db.pragma('user_version = 99');
    db.close();
    expect(() => SqliteStore.open(dir)).toThrow(expect.objectContaining({ code: 'DRIVER' }));
  });

  it('waits for another process that holds the write lock instead of failing', async () => {
    const store = opened();
    const file = path.join(dir, 'baton.db');
    const script = `
      const db = new (require('better-sqlite3'))(process.argv[1]);
      db.exec('BEGIN IMMEDIATE');
      process.stdout.write('locked\\n');
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 400);
      db.exec('COMMIT');
      db.close();`;
    const child = spawn(process.execPath, ['-e', script, file], { stdio: ['ignore', 'pipe', 'inherit'] });
    const exited = new Promise((resolve) => child.on('exit', resolve));
    await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
    const started = Date.now();
    const rev = await store.create('services.web', 1);
    expect(Date.now() - started).toBeGreaterThanOrEqual(200);
    expect(rev).toBeGreaterThan(0);
    expect(await exited).toBe(0);
  });
});
