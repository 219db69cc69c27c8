import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSpecFile } from '../../src/spec/load.js';
import { Repo } from '../../src/store/repo.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { baton, CLI, type HelloFixture, helloFixture, writeHello } from '../helpers/baton.js';
import { startLoad } from '../helpers/load.js';
import { waitFor } from '../helpers/wait.js';

describe('the CLI around a running service', () => {
  let f: HelloFixture;

  beforeAll(async () => {
    f = await helloFixture({ version: 'v1' });
  });

  afterAll(async () => {
    await f?.close();
  });

  it('init writes a commented starter that validates, and refuses to overwrite', async () => {
    const dir = join(f.ws.dir, 'init');
    mkdirSync(dir);
    const r = await baton(['init'], { dataDir: f.ws.dataDir, cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    const file = join(dir, 'baton.yaml');
    expect(readFileSync(file, 'utf8')).toMatch(/^#/m);
    await expect(loadSpecFile(file)).resolves.toBeDefined();
    const again = await baton(['init'], { dataDir: f.ws.dataDir, cwd: dir });
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/already exists/);
  });

  it('plan prints the steps and changes nothing', async () => {
    writeHello(f.ws, { version: 'v1b', listen: f.port });
    const before = await f.status();
    const r = await baton(['plan', '-f', f.ws.specFile], { dataDir: f.ws.dataDir });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/hello: revision 2 would replace revision 1/);
    expect(r.stdout).toMatch(/1\. start 1 instance\(s\) of revision 2/);
    expect(r.stdout).toMatch(/drain: hello-r1-/);
    const json = JSON.parse(
      (await baton(['deploy', '--dry-run', '--json', '-f', f.ws.specFile], { dataDir: f.ws.dataDir })).stdout,
    );
    expect(json.plans[0].plan.steps[0].op).toBe('start');
    expect(await f.status()).toEqual(before);
    writeHello(f.ws, { version: 'v1', listen: f.port });
  });

  it('logs shows instance output; -f follows it', async () => {
    const r = await baton(['logs', 'hello'], { dataDir: f.ws.dataDir });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^hello-r1-\w+-1 \| .*listening/m);
    const follow = spawn(
      process.execPath,
      [CLI, '--data-dir', f.ws.dataDir, 'logs', 'hello', '-f', '--tail', '0'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    follow.stdout.on('data', (c: Buffer) => {
      out += c;
    });
    try {
      // A new instance's output appears in the follow stream.
      writeHello(f.ws, { version: 'v2', listen: f.port });
      expect((await baton(['deploy', '-f', f.ws.specFile], { dataDir: f.ws.dataDir })).code).toBe(0);
      await waitFor(() => /hello-r\d+-\w+-\d \| .*v2.*listening/.test(out), {
        message: 'followed log line of the v2 instance',
      });
    } finally {
      follow.kill('SIGTERM');
    }
  });

  it('a crashed instance is restarted in place with backoff while the other one serves: 0 failed requests', async () => {
    const load = startLoad(`http://127.0.0.1:${f.port}`, { rps: 200 });
    const [victim] = (await f.status()).instances;
    process.kill(victim!.pid, 'SIGKILL');
    const restarted = await waitFor(
      async () => {
        const inst = (await f.status()).instances.find((i) => i.id === victim!.id);
        return inst && inst.restarts === 1 && inst.state === 'running' && inst.healthy ? inst : undefined;
      },
      { timeoutMs: 20_000, message: 'the crashed instance to be restarted and healthy' },
    );
    expect(restarted.port).toBe(victim!.port);
    expect(restarted.pid).not.toBe(victim!.pid);
    expect((await f.status()).instances).toHaveLength(2);
    const report = await load.stop();
    expect(report.errors).toEqual([]);
    expect(report.failed).toBe(0);
  });

  it('stop drains and stops every instance and closes the listener; deploy brings it back', async () => {
    const r = await baton(['stop', 'hello'], { dataDir: f.ws.dataDir });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/stopped 2 instance/);
    const s = await f.status();
    expect(s.instances).toEqual([]);
    await expect(fetch(`http://127.0.0.1:${f.port}/`)).rejects.toThrow();
    expect((await baton(['deploy', '-f', f.ws.specFile], { dataDir: f.ws.dataDir })).code).toBe(0);
    expect((await (await fetch(`http://127.0.0.1:${f.port}/`)).text()).trim()).toBe('hello from v2');
  });

  it('rollback --to a revision that does not exist is bad input; history --json lists revisions and deployments', async () => {
    const bad = await baton(['rollback', 'hello', '--to', '99'], { dataDir: f.ws.dataDir });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/no revision 99/);
    const h = JSON.parse((await baton(['history', 'hello', '--json'], { dataDir: f.ws.dataDir })).stdout);
    expect(h.revisions.length).toBeGreaterThanOrEqual(2);
    expect(h.deployments.every((d: { actor: string }) => d.actor.startsWith('cli:'))).toBe(true);
    const audit = JSON.parse(
      (await baton(['audit', 'hello', '--json'], { dataDir: f.ws.dataDir })).stdout,
    ) as {
      events: Array<{ action: string; result: string; actor: string }>;
    };
    expect(audit.events.map((e) => `${e.action}:${e.result}`)).toContain('stop:ok');
    expect(
      audit.events.filter((e) => e.action === 'deploy' && e.result === 'ok').length,
    ).toBeGreaterThanOrEqual(2);
  });

  it('a killed proxy is restarted by the control plane and comes back with its routes', async () => {
    const pidFile = join(f.ws.dataDir, 'proxy', 'proxy.pid');
    const pid = Number(readFileSync(pidFile, 'utf8'));
    process.kill(pid, 'SIGKILL');
    // The killed primary's workers may answer for a moment until they notice (they exit when its IPC
    // channel closes): wait for the control plane's new proxy, then for traffic through it.
    await waitFor(
      () => {
        const now = existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8')) : 0;
        return now !== pid && now > 0;
      },
      { timeoutMs: 15_000, message: 'the control plane to start a new proxy' },
    );
    const body = await waitFor(
      async () => {
        const r = await fetch(`http://127.0.0.1:${f.port}/`);
        return r.ok ? (await r.text()).trim() : undefined;
      },
      { timeoutMs: 15_000, message: 'traffic to flow again through a restarted proxy' },
    );
    expect(body).toMatch(/^hello from v/);
  });

  it('a lock held elsewhere stops a deploy naming its holder; unlock releases it and says who held it', async () => {
    const store = SqliteStore.open(f.ws.dataDir);
    try {
      await new Repo(store).acquireLock(
        'hello',
        { holder: 'baton serve pid 4242 on other-host', pid: 4242, deployment: 'feedbeef' },
        600_000,
      );
    } finally {
      await store.close();
    }
    const blocked = await baton(['deploy', '-f', f.ws.specFile], { dataDir: f.ws.dataDir });
    expect(blocked.code).toBe(1);
    expect(blocked.stderr).toMatch(
      /locked by baton serve pid 4242 on other-host since .* \(deployment feedbeef\)/,
    );
    expect((await baton(['status'], { dataDir: f.ws.dataDir })).stdout).toMatch(
      /lock: baton serve pid 4242 on other-host/,
    );
    const unlock = await baton(['unlock', 'hello'], { dataDir: f.ws.dataDir });
    expect(unlock.code, unlock.stderr).toBe(0);
    expect(unlock.stdout).toMatch(
      /released the lock held by baton serve pid 4242 on other-host since .* \(deployment feedbeef\)/,
    );
    expect((await baton(['deploy', '-f', f.ws.specFile], { dataDir: f.ws.dataDir })).code).toBe(0);
    expect((await baton(['unlock', 'hello'], { dataDir: f.ws.dataDir })).code).toBe(2);
  });

  it('the token guards the API; the daemon logs structured JSON', async () => {
    const r = await baton(['status'], { dataDir: f.ws.dataDir, env: { BATON_TOKEN: 'wrong' } });
    // Like an unreachable control plane: nothing was done, and it is not the input that is wrong.
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/refused the token \(HTTP 401\)/);
    expect(existsSync(join(f.ws.dataDir, 'token'))).toBe(true);
    const line = f.daemon
      .output()
      .split('\n')
      .find((l) => l.startsWith('{'));
    expect(line && JSON.parse(line)).toMatchObject({ name: 'baton' });
  });
});
