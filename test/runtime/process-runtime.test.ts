import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DriverError } from '../../src/core/errors.js';
import { InstanceState } from '../../src/core/types.js';
import { createRuntime } from '../../src/runtime/create.js';
import { isAlive } from '../../src/runtime/process/proc.js';
import { ProcessRuntime } from '../../src/runtime/process/process-runtime.js';
import { RecordDir, SPAWN_TOKEN_ENV } from '../../src/runtime/process/records.js';
import type { Runtime, StartRequest } from '../../src/runtime/runtime.js';
import { httpGet } from '../helpers/http.js';
import { fixture, nodeSpec, processHarness } from '../helpers/process-harness.js';
import { waitFor } from '../helpers/wait.js';

let h: Awaited<ReturnType<typeof processHarness>>;
let seq = 0;
const extraPids: number[] = [];

beforeEach(async () => {
  h = await processHarness();
});
afterEach(async () => {
  for (const pid of extraPids.splice(0)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {}
  }
  await h.cleanup();
});

const request = (env: Record<string, string> = {}, script?: string): StartRequest => ({
  id: `p${++seq}`,
  service: 'web',
  revision: 3,
  deployment: 'd7',
  spec: nodeSpec({ VERSION: 'v3', ...env }, script),
});
const logLines = async (rt: Runtime, id: string) => {
  const out: string[] = [];
  for await (const line of rt.logs(id)) out.push(line);
  return out;
};
const logged = (rt: Runtime, id: string, re: RegExp) =>
  waitFor(async () => (await logLines(rt, id)).map((l) => re.exec(l)).find(Boolean), {
    message: `log line ${re}`,
  });

describe('process runtime', () => {
  it('gives the app PORT, HOST and BATON_* and writes a record', async () => {
    const rt = h.make();
    const req = request({}, fixture('print-env.mjs'));
    const i = await rt.start(req);
    await logged(rt, req.id, /^BATON_INSTANCE=/);
    const lines = await logLines(rt, req.id);
    expect(lines).toEqual(
      expect.arrayContaining([
        `PORT=${i.port}`,
        'HOST=127.0.0.1',
        'BATON_SERVICE=web',
        'BATON_REVISION=3',
        `BATON_INSTANCE=${req.id}`,
        'VERSION=v3',
      ]),
    );
    const rec = JSON.parse(readFileSync(path.join(h.dirs.stateDir, `${req.id}.json`), 'utf8'));
    expect(rec).toMatchObject({
      id: req.id,
      service: 'web',
      revision: 3,
      deployment: 'd7',
      port: i.port,
      pid: i.pid,
    });
    expect(typeof rec.pidStartTime).toBe('number');
  });

  it('is adopted by a new runtime over the same directories, which can stop it', async () => {
    const a = h.make();
    const req = request();
    const i = await a.start(req);
    await waitFor(() => httpGet(i.host, i.port, '/'));
    await a.close();

    const b = h.make();
    expect(await b.get(req.id)).toMatchObject({ id: req.id, pid: i.pid, port: i.port, state: 'running' });
    await b.stop(req.id, 5000);
    expect(await b.get(req.id)).toMatchObject({ state: 'stopped' });
    expect(isAlive(i.pid!)).toBe(false);
    expect((await logLines(b, req.id)).join('\n')).toMatch(/SIGTERM: stopping/);
  });

  it('reports an adopted instance that died as exited with no exit code', async () => {
    const a = h.make();
    const req = request();
    const i = await a.start(req);
    await a.close();
    process.kill(i.pid!, 'SIGKILL');
    const b = h.make();
    await waitFor(async () => (await b.get(req.id))?.state === InstanceState.Exited);
    expect((await b.get(req.id))?.exitCode).toBeNull();
  });

  it('shows a crash on boot as exited with its exit code, and keeps its stderr', async () => {
    const rt = h.make();
    const req = request({ CRASH_ON_BOOT: '1' });
    await rt.start(req);
    const i = await waitFor(async () => {
      const got = await rt.get(req.id);
      return got?.state === InstanceState.Exited && got;
    });
    expect(i.exitCode).toBe(1);
    await logged(rt, req.id, /CRASH_ON_BOOT=1, exiting/);
    // The exit is also in the record, for the next control plane.
    await waitFor(
      () => JSON.parse(readFileSync(path.join(h.dirs.stateDir, `${req.id}.json`), 'utf8')).exitCode === 1,
    );
  });

  it('kills a process that ignores SIGTERM after the stop timeout', async () => {
    const rt = h.make();
    const req = request({}, fixture('ignore-sigterm.mjs'));
    const i = await rt.start(req);
    await logged(rt, req.id, /^ready/);
    const t0 = Date.now();
    await rt.stop(req.id, 400);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(400);
    expect(isAlive(i.pid!)).toBe(false);
    expect(await rt.get(req.id)).toMatchObject({ state: 'stopped', signal: 'SIGKILL' });
    await logged(rt, req.id, /SIGTERM ignored/);
  });

  it("stops the app's own children too (its process group)", async () => {
    const rt = h.make();
    const req = request({}, fixture('with-child.mjs'));
    const i = await rt.start(req);
    const m = await logged(rt, req.id, /^child (\d+)$/);
    const childPid = Number(m[1]);
    extraPids.push(childPid);
    expect(isAlive(childPid)).toBe(true);
    await rt.stop(req.id, 5000);
    expect(isAlive(i.pid!)).toBe(false);
    expect(isAlive(childPid)).toBe(false);
  });

  it('refuses to remove a running instance, and keeps the log of a removed one', async () => {
    const rt = h.make();
    const req = request();
    await rt.start(req);
    await logged(rt, req.id, /listening on/);
    await expect(rt.remove(req.id)).rejects.toBeInstanceOf(DriverError);
    await rt.stop(req.id, 5000);
    await rt.remove(req.id);
    expect(existsSync(path.join(h.dirs.logDir, `${req.id}.log`))).toBe(true);
    expect(await logLines(rt, req.id)).not.toHaveLength(0);
    await expect(logLines(rt, 'never-started')).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('fails to start a command that does not exist, with a DriverError', async () => {
    const rt = h.make();
    const req = { ...request(), spec: { ...nodeSpec(), command: 'no-such-binary-baton --flag' } };
    await expect(rt.start(req)).rejects.toThrow(/cannot start no-such-binary-baton/);
    expect(await rt.get(req.id)).toBeUndefined();
  });
});

describe('createRuntime', () => {
  it('makes a process runtime under the data dir', async () => {
    const rt = createRuntime('process', { dataDir: h.dataDir });
    expect(rt).toBeInstanceOf(ProcessRuntime);
    const req = request();
    await rt.start(req);
    expect(existsSync(path.join(h.dataDir, 'instances', `${req.id}.json`))).toBe(true);
    expect(existsSync(path.join(h.dataDir, 'logs', `${req.id}.log`))).toBe(true);
    await rt.stop(req.id, 5000);
    await rt.close();
  });

  it('rejects an unknown kind', () => {
    expect(() => createRuntime('k8s', { dataDir: h.dataDir })).toThrow(DriverError);
  });

  it('an instance whose spawner died before recording it is found by its intent and recorded', async () => {
    // What a Baton SIGKILLed while the OS created the process leaves: an intent, and a process with its
    // token but no record.
    const rt = h.make();
    const req = request();
    const token = 'test-token-1';
    const base = { ...req, host: '127.0.0.1', port: 1, restarts: 0 };
    const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], {
      detached: true,
      stdio: 'ignore',
      env: { ...process.env, [SPAWN_TOKEN_ENV]: token, BATON_INSTANCE: req.id },
    });
    child.unref();
    extraPids.push(child.pid!);
    new RecordDir(h.dirs.stateDir).writeIntentSync({ base, token, at: Date.now() - 60_000 });
    const found = await waitFor(async () => (await rt.list()).find((i) => i.id === req.id));
    expect(found).toMatchObject({ pid: child.pid, state: InstanceState.Running });
    expect(await new RecordDir(h.dirs.stateDir).intents()).toEqual([]);
    await rt.stop(req.id, 2000);
    expect(isAlive(child.pid!)).toBe(false);
  });

  it('an intent whose process never came is dropped; a young one (a spawn under way elsewhere) is left', async () => {
    const rt = h.make();
    const dir = new RecordDir(h.dirs.stateDir);
    const base = { ...request(), host: '127.0.0.1', port: 1, restarts: 0 };
    dir.writeIntentSync({ base, token: 'never-spawned', at: Date.now() - 60_000 });
    const young = { ...request(), host: '127.0.0.1', port: 1, restarts: 0 };
    dir.writeIntentSync({ base: young, token: 'under-way', at: Date.now() });
    expect(await rt.list()).toEqual([]);
    expect((await dir.intents()).map((i) => i.token)).toEqual(['under-way']);
  });
});
