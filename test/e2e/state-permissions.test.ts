import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, lstatSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  baton,
  CLI,
  type Daemon,
  freePort,
  killAll,
  startDaemon,
  type Workspace,
  workspace,
  writeHello,
} from '../helpers/baton.js';
import { missing } from '../helpers/services.js';

/** Another user: `nobody` on Debian and most Linux systems. */
const NOBODY = { uid: 65534, gid: 65534 };

/** Checking "readable by another user" needs a real other user: the test switches to it, as root. */
function asRootHere(): boolean {
  if (process.getuid?.() === 0) return true;
  return missing(
    'STATE PERMISSION TESTS',
    'they read the data dir as the unprivileged user nobody (uid 65534), which needs root to switch to',
  );
}

/** Every path under `root`, itself included (symlinks not followed), as root sees them. */
function tree(root: string): string[] {
  const out = [root];
  for (const name of readdirSync(root)) {
    const p = join(root, name);
    if (lstatSync(p).isDirectory()) out.push(...tree(p));
    else out.push(p);
  }
  return out;
}

/**
 * The paths that user nobody can read (a file opened for reading, a directory listed), tried by a real
 * process running as nobody — not by reading mode bits, which could be misread.
 */
function readableByNobody(paths: string[]): string[] {
  const script = `
    const fs = require('node:fs');
    const ok = [];
    for (const p of JSON.parse(process.argv[1])) {
      try {
        if (fs.statSync(p).isDirectory()) fs.readdirSync(p);
        else fs.closeSync(fs.openSync(p, 'r'));
        ok.push(p);
      } catch {}
    }
    process.stdout.write(JSON.stringify({ uid: process.getuid(), ok }));`;
  const r = spawnSync(process.execPath, ['-e', script, JSON.stringify(paths)], {
    ...NOBODY,
    cwd: '/',
    env: { PATH: '/usr/bin:/bin' },
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`the check as nobody failed: ${r.error ?? r.stderr}`);
  const out = JSON.parse(r.stdout) as { uid: number; ok: string[] };
  expect(out.uid).toBe(NOBODY.uid);
  return out.ok;
}

const mode = (p: string) => (statSync(p).mode & 0o777).toString(8);

describe.runIf(asRootHere())('state files are owner-only whatever existed before', () => {
  let ws: Workspace;
  let daemon: Daemon | undefined;
  let port: number;

  beforeAll(async () => {
    ws = workspace();
    port = await freePort();
    // A world-traversable parent, so only the data dir's own modes keep another user out.
    chmodSync(ws.dir, 0o755);
    // The data dir and two of its directories made 0755 beforehand (by hand, an old Baton, a umask).
    for (const d of [ws.dataDir, join(ws.dataDir, 'logs'), join(ws.dataDir, 'instances')]) {
      mkdirSync(d, { recursive: true });
      chmodSync(d, 0o755);
    }
  });

  afterAll(async () => {
    await daemon?.kill();
    await ws?.cleanup();
  });

  it('after a deploy into a data dir made 0755 beforehand, user nobody can read nothing under it', async () => {
    daemon = await startDaemon(ws.dataDir);
    writeHello(ws, { version: 'v1', listen: port, replicas: 1, env: { API_KEY: 'not-for-others' } });
    const r = await baton(['deploy', '-f', ws.specFile], { dataDir: ws.dataDir });
    expect(r.code, r.stderr).toBe(0);

    const paths = tree(ws.dataDir);
    const names = paths.map((p) => relative(ws.dataDir, p));
    // The files that matter are all there: the store with its WAL (secret values in clear), the token,
    // the instance's log and record, the proxy's snapshot.
    for (const n of ['baton.db', 'baton.db-wal', 'baton.db-shm', 'token', 'api.json', 'proxy/state.json'])
      expect(names).toContain(n);
    expect(names.some((n) => /^logs\/hello-r1-.*\.log$/.test(n))).toBe(true);
    expect(names.some((n) => /^instances\/hello-r1-.*\.json$/.test(n))).toBe(true);
    // As a real other user: a file beside the data dir is readable (the check can succeed), nothing in it.
    const control = join(ws.dir, 'public.txt');
    writeFileSync(control, 'anyone may read this', { mode: 0o644 });
    expect(readableByNobody([control, ...paths])).toEqual([control]);
    // And by mode: the data dir and its directories 0700, the store 0600.
    expect([ws.dataDir, join(ws.dataDir, 'logs'), join(ws.dataDir, 'instances')].map(mode)).toEqual([
      '700',
      '700',
      '700',
    ]);
    expect(['baton.db', 'baton.db-wal', 'baton.db-shm'].map((f) => mode(join(ws.dataDir, f)))).toEqual([
      '600',
      '600',
      '600',
    ]);
    // No group or other bit on anything, so it stays private if the data dir is opened up later.
    expect(paths.filter((p) => statSync(p).mode & 0o077).map((p) => `${p} ${mode(p)}`)).toEqual([]);
  }, 120_000);

  it('baton doctor names what others can read and the fix; baton serve makes it owner-only again at start', async () => {
    chmodSync(join(ws.dataDir, 'baton.db-wal'), 0o644);
    chmodSync(join(ws.dataDir, 'logs'), 0o755);
    const bad = await baton(['doctor', '--json'], { dataDir: ws.dataDir });
    expect(bad.code).toBe(1);
    const check = (JSON.parse(bad.stdout) as { checks: Array<Record<string, string>> }).checks[0]!;
    expect(check).toMatchObject({ name: 'data dir', status: 'fail' });
    expect(check.detail).toMatch(/readable by other users: .*baton\.db-wal \(0644\)/);
    expect(check.detail).toMatch(/logs \(0755\)/);
    expect(check.fix).toBe(`chmod -R go-rwx ${ws.dataDir} (baton serve does it when it starts)`);

    await daemon!.kill();
    daemon = await startDaemon(ws.dataDir);
    expect(daemon.output()).toMatch(/state files were readable by others: made owner-only/);
    const good = await baton(['doctor', '--json'], { dataDir: ws.dataDir });
    expect((JSON.parse(good.stdout) as { checks: Array<Record<string, string>> }).checks[0]).toMatchObject({
      name: 'data dir',
      status: 'ok',
    });
    expect(readableByNobody(tree(ws.dataDir))).toEqual([]);
  }, 120_000);

  it('a data dir owned by another user is refused by baton serve, naming it; doctor says so', async () => {
    const theirs = join(ws.dir, 'theirs');
    mkdirSync(theirs, { mode: 0o755 });
    chownSync(theirs, NOBODY.uid, NOBODY.gid);
    // spawnSync with a timeout: a serve that did not refuse would run until killed (and leave a proxy).
    const serve = spawnSync(
      process.execPath,
      [CLI, '--data-dir', theirs, 'serve', '--listen', '127.0.0.1:0'],
      {
        encoding: 'utf8',
        timeout: 30_000,
      },
    );
    await killAll(theirs);
    expect(serve.status, serve.stderr).toBe(2);
    expect(serve.stderr).toContain(
      `data dir ${theirs} is owned by uid ${NOBODY.uid}, not by this user (uid 0)`,
    );
    // Nothing was written into it, and its mode was left as its owner set it.
    expect(readdirSync(theirs)).toEqual([]);
    expect(mode(theirs)).toBe('755');
    const doctor = await baton(['doctor', '--json'], { dataDir: theirs });
    expect(doctor.code).toBe(1);
    expect((JSON.parse(doctor.stdout) as { checks: Array<Record<string, string>> }).checks[0]).toMatchObject({
      name: 'data dir',
      status: 'fail',
      detail: expect.stringContaining(`owned by uid ${NOBODY.uid}`),
    });
  }, 60_000);
});
