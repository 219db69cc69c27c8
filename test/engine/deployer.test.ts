import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DriverError, LockHeldError } from '../../src/core/errors.js';
import { silentLogger } from '../../src/core/logger.js';
import { Deployer } from '../../src/engine/deployer.js';
import type { EngineDeps } from '../../src/engine/deps.js';
import type { DeployEvent } from '../../src/engine/events.js';
import { recoverInterrupted } from '../../src/engine/recover.js';
import { Supervisor } from '../../src/engine/supervisor.js';
import { FakeRouter } from '../../src/router/fake/fake-router.js';
import { FakeRuntime } from '../../src/runtime/fake/fake-runtime.js';
import { type ServiceSpec, serviceSchema } from '../../src/spec/schema.js';
import { MemoryStore } from '../../src/store/fake/memory-store.js';
import { Repo } from '../../src/store/repo.js';
import { waitFor } from '../helpers/wait.js';

const spec = (version: string, extra: Record<string, unknown> = {}): ServiceSpec =>
  serviceSchema.parse({
    runtime: 'process',
    command: 'unused',
    env: { VERSION: version, ...((extra.env as object) ?? {}) },
    replicas: 2,
    probe: { http: { path: '/health' }, interval: '20ms', startTimeout: '1s' },
    traffic: { listen: '127.0.0.1:1', drainTimeout: '1s' },
    strategy: { type: 'replace' },
    ...extra,
  });

describe('Deployer over fakes', () => {
  let runtime: FakeRuntime;
  let router: FakeRouter;
  let deps: EngineDeps;
  let deployer: Deployer;
  let events: DeployEvent[];
  const emit = (e: DeployEvent) => events.push(e);

  beforeEach(() => {
    runtime = new FakeRuntime({ serveHttp: true });
    router = new FakeRouter();
    deps = { repo: new Repo(new MemoryStore()), runtime, router, logger: silentLogger(), holder: 'test' };
    deployer = new Deployer(deps);
    events = [];
  });
  afterEach(async () => {
    for (const i of await runtime.list()) await runtime.stop(i.id, 100);
    await runtime.close();
  });

  const active = async () =>
    ((await router.status('web'))?.backends ?? []).filter((b) => b.state === 'active').map((b) => b.revision);

  it('replace: starts the new set, switches to it with one call, stops the old set; journals every step', async () => {
    expect((await deployer.deploy({ service: 'web', spec: spec('v1'), actor: 't' }, emit)).ok).toBe(true);
    const r = await deployer.deploy({ service: 'web', spec: spec('v2'), actor: 't' }, emit);
    expect(r).toMatchObject({ ok: true, revision: 2, state: 'succeeded' });
    expect(await active()).toEqual([2, 2]);
    expect((await runtime.list('web')).map((i) => i.revision)).toEqual([2, 2]);
    const switches = router.callsOf('switchTo');
    expect(switches.at(-1)?.[2]).toHaveLength(2);
    const journal = await deps.repo.readJournal(r.deployment);
    expect(journal.map((j) => `${j.op}:${j.phase}`)).toEqual([
      'start:begin',
      'start:done',
      'await-healthy:begin',
      'await-healthy:done',
      'switch:begin',
      'switch:done',
      'drain:begin',
      'drain:done',
      'stop:begin',
      'stop:done',
    ]);
    const service = await deps.repo.getService('web');
    expect(service?.current).toBe(2);
    expect((await deps.repo.getRevision('web', 1))?.status).toBe('superseded');
    expect(await deps.repo.getLock('web')).toBeUndefined();
  });

  it('a router failure midway rolls back: the old set serves at full capacity, new instances are gone', async () => {
    await deployer.deploy({ service: 'web', spec: spec('v1'), actor: 't' }, emit);
    router.failNext('switchTo', new DriverError('fake', 'switch exploded'));
    const r = await deployer.deploy({ service: 'web', spec: spec('v2'), actor: 't' }, emit);
    expect(r).toMatchObject({ ok: false, state: 'rolled-back' });
    expect(r.message).toMatch(/switch exploded.*rolled back, revision 1 keeps serving/);
    expect(await active()).toEqual([1, 1]);
    expect((await runtime.list('web')).map((i) => i.revision)).toEqual([1, 1]);
    expect((await deps.repo.getRevision('web', 2))?.status).toBe('failed');
    expect((await deps.repo.getService('web'))?.current).toBe(1);
    expect(events.some((e) => e.type === 'rollback')).toBe(true);
  });

  it('rolling: a failure after old instances were stopped restarts the old revision to full capacity', async () => {
    const rolling = { strategy: { type: 'rolling', maxSurge: 1, maxUnavailable: 0 } };
    await deployer.deploy({ service: 'web', spec: spec('v1', rolling), actor: 't' }, emit);
    // First wave succeeds (one v1 stopped); the second new instance fails its probe.
    let started = 0;
    const origStart = runtime.start.bind(runtime);
    runtime.start = async (req) => {
      started++;
      return origStart(
        started === 2 ? { ...req, spec: { ...req.spec, env: { ...req.spec.env, HEALTH: 'fail' } } } : req,
      );
    };
    const r = await deployer.deploy({ service: 'web', spec: spec('v2', rolling), actor: 't' }, emit);
    runtime.start = origStart;
    expect(r.ok).toBe(false);
    expect(r.message).toMatch(/did not pass its probe within 1s; last probe: HTTP 500/);
    expect(await active()).toEqual([1, 1]);
    expect((await runtime.list('web')).every((i) => i.revision === 1 && i.state === 'running')).toBe(true);
  });

  it('a lock whose holder died on this host is taken over', async () => {
    const dead = spawnSync('true').pid!;
    await deps.repo.acquireLock(
      'web',
      { holder: `baton serve pid ${dead} on ${hostname()}`, pid: dead, deployment: 'gone' },
      60_000,
    );
    expect((await deployer.deploy({ service: 'web', spec: spec('v1'), actor: 't' }, emit)).ok).toBe(true);
  });

  it('pause holds a running deploy before its next step; resume lets it go on; promote ends a pause', async () => {
    await deployer.deploy({ service: 'web', spec: spec('v1'), actor: 't' }, emit);
    const canary = { strategy: { type: 'canary', steps: [{ setWeight: 50 }, { pause: {} }] } };
    const result = deployer.deploy({ service: 'web', spec: spec('v2', canary), actor: 't' }, emit);
    await waitFor(() => deployer.activity('web')?.waiting === 'promotion');
    deployer.pause('web');
    deployer.promote('web');
    await waitFor(() => deployer.activity('web')?.waiting === 'resume');
    const steps = (await deps.repo.readJournal(deployer.activity('web')!.deployment)).length;
    expect(deployer.activity('web')).toMatchObject({ paused: true });
    expect((await deps.repo.readJournal(deployer.activity('web')!.deployment)).length).toBe(steps);
    deployer.resume('web');
    expect(await result).toMatchObject({ ok: true, revision: 2 });
    expect(() => deployer.promote('web')).toThrow(/no deployment of web is running/);
  });

  it("a runtime's own health verdict (an image HEALTHCHECK) must pass too before traffic moves", async () => {
    await deployer.deploy({ service: 'web', spec: spec('v1'), actor: 't' }, emit);
    const get = runtime.get.bind(runtime);
    runtime.get = async (id) => {
      const inst = await get(id);
      return inst && inst.revision === 2 ? { ...inst, health: 'unhealthy' } : inst;
    };
    const r = await deployer.deploy({ service: 'web', spec: spec('v2'), actor: 't' }, emit);
    runtime.get = get;
    expect(r.ok).toBe(false);
    expect(r.message).toMatch(
      /last probe: HTTP 200 from GET \/health, but the image HEALTHCHECK says unhealthy/,
    );
    expect(await active()).toEqual([1, 1]);
  });

  it('a held lock names its holder and changes nothing', async () => {
    await deps.repo.acquireLock('web', { holder: 'someone else', deployment: 'abc' }, 60_000);
    await expect(deployer.deploy({ service: 'web', spec: spec('v1'), actor: 't' }, emit)).rejects.toThrow(
      LockHeldError,
    );
    await expect(deployer.deploy({ service: 'web', spec: spec('v1'), actor: 't' }, emit)).rejects.toThrow(
      /someone else/,
    );
    expect(runtime.calls).toEqual([]);
  });

  it('rollback deploys the previous revision again without recording a new one', async () => {
    await deployer.deploy({ service: 'web', spec: spec('v1'), actor: 't' }, emit);
    await deployer.deploy({ service: 'web', spec: spec('v2'), actor: 't' }, emit);
    const r = await deployer.rollback({ service: 'web', actor: 't' }, emit);
    expect(r).toMatchObject({ ok: true, revision: 1 });
    expect((await deps.repo.listRevisions('web')).map((x) => [x.number, x.status])).toEqual([
      [2, 'superseded'],
      [1, 'active'],
    ]);
  });

  it('an unchanged spec on a converged service is a no-op deploy', async () => {
    await deployer.deploy({ service: 'web', spec: spec('v1'), actor: 't' }, emit);
    const calls = runtime.calls.length;
    const r = await deployer.deploy({ service: 'web', spec: spec('v1'), actor: 't' }, emit);
    expect(r.ok).toBe(true);
    expect(runtime.calls.length).toBe(calls);
  });

  it('recovery after a crash mid-deploy drains and stops what the dead deploy started', async () => {
    await deployer.deploy({ service: 'web', spec: spec('v1'), actor: 't' }, emit);
    // Simulate a deploy that died after starting one instance of revision 2.
    const { revision } = await deps.repo.recordRevision('web', spec('v2'));
    await deps.repo.createDeployment({
      id: 'dead01',
      service: 'web',
      fromRevision: 1,
      toRevision: revision.number,
      state: 'running',
      kind: 'deploy',
      actor: 't',
      startedAt: new Date().toISOString(),
    });
    await deps.repo.acquireLock('web', { holder: 'dead', deployment: 'dead01' }, 60_000);
    await runtime.start({
      id: 'web-r2-dead01-1',
      service: 'web',
      revision: 2,
      deployment: 'dead01',
      spec: spec('v2'),
    });
    expect(await recoverInterrupted(deps, deployer)).toEqual([]);
    expect((await runtime.list('web')).map((i) => i.revision)).toEqual([1, 1]);
    expect((await deps.repo.getDeployment('dead01'))?.state).toBe('rolled-back');
    expect((await deps.repo.getRevision('web', 2))?.status).toBe('failed');
    expect(await deps.repo.getLock('web')).toBeUndefined();
  });

  it('the supervisor logs why an instance turned unhealthy with the revision’s secrets hidden', async () => {
    const lines: string[] = [];
    const logger = pino({ level: 'info' }, { write: (l: string) => void lines.push(l) });
    const flag = join(mkdtempSync(join(tmpdir(), 'baton-sup-')), 'healthy');
    writeFileSync(flag, '');
    const token = 's3cr3t-probe-token';
    // The probe's output quotes its own argument, a secret (from !env in baton.yaml).
    const probe = {
      exec: { command: '/bin/sh', args: ['-c', `echo "denied for $0" >&2; test -f ${flag}`, token] },
      interval: '20ms',
      startTimeout: '2s',
      unhealthyThreshold: 1,
    };
    const d = new Deployer({ ...deps, logger });
    const r = await d.deploy(
      { service: 'web', spec: spec('v1', { probe }), secretPaths: ['probe.exec.args.2'], actor: 't' },
      emit,
    );
    expect(r.ok).toBe(true);
    rmSync(flag);
    const sup = new Supervisor({ ...deps, logger }, d, 10);
    sup.start();
    try {
      await waitFor(() => lines.some((l) => l.includes('instance unhealthy')), {
        message: 'the unhealthy line',
      });
    } finally {
      await sup.stop();
    }
    const line = lines.find((l) => l.includes('instance unhealthy'))!;
    expect(line).toContain('denied for [secret]');
    expect(lines.join('')).not.toContain(token);
  });

  it('the supervisor restarts a crashed instance and marks it unhealthy until it passes again', async () => {
    await deployer.deploy({ service: 'web', spec: spec('v1'), actor: 't' }, emit);
    const [victim] = await runtime.list('web');
    await runtime.crash(victim!.id);
    const sup = new Supervisor(deps, deployer, 10);
    await sup.tick();
    expect(runtime.calls.filter((c) => c.op === 'restart').map((c) => c.id)).toEqual([victim!.id]);
    sup.start();
    try {
      await waitFor(async () => (await router.status('web'))?.backends.every((b) => b.healthy));
    } finally {
      await sup.stop();
    }
    expect(router.callsOf('setHealthy').map((c) => c.slice(1))).toEqual([
      [victim!.id, false],
      [victim!.id, true],
    ]);
  });
});
