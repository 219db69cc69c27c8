import { readdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NatsStore } from '../../src/store/nats/nats-store.js';
import { Repo } from '../../src/store/repo.js';
import { type ClusterFixture, converged, startClusterFixture } from '../agent/cluster-harness.js';
import { startLoad } from '../helpers/load.js';
import { requireNats } from '../helpers/nats.js';
import { waitFor } from '../helpers/wait.js';

const CLUSTER = [
  'cluster:',
  '  updateGovernor: { name: ops-up, capacity: 1, expiry: 5s }',
  '  restartGovernor: { name: ops-restart, capacity: 1, expiry: 5s }',
  '  restartFiles: [restart.txt]',
].join('\n');

/** The pid of the running instance of a node (its process runtime record). */
function instancePid(dataDir: string): number {
  const dir = join(dataDir, 'instances');
  const recs = readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as { pid: number; state: string });
  const running = recs.filter((r) => r.state === 'running');
  if (running.length !== 1)
    throw new Error(`expected one running instance in ${dir}, found ${running.length}`);
  return running[0]!.pid;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe.skipIf(!requireNats())('cluster: revert, maintenance, watched files', () => {
  let f: ClusterFixture;
  beforeAll(async () => {
    f = await startClusterFixture({ nodes: 3 });
    for (const a of f.agents) writeFileSync(join(a.dataDir, 'restart.txt'), 'v1\n');
    const r = await f.deploy({ version: 'v1', replicas: 1, extra: CLUSTER });
    expect(r.code, r.stderr + r.stdout).toBe(0);
    await waitFor(async () => converged(await f.status(), 1, 3, 1), {
      timeoutMs: 30_000,
      intervalMs: 200,
      message: 'every node runs 1 healthy instance of r1',
    });
  }, 90_000);
  afterAll(async () => {
    await f?.close();
  });

  it('a revision whose instances fail health is reverted on all nodes, with no failed request', async () => {
    const loads = f.agents.map((a) => startLoad(`http://127.0.0.1:${a.port}`, { rps: 40 }));
    try {
      const r = await f.deploy({
        version: 'v2',
        replicas: 1,
        env: { HEALTH: 'fail' },
        startTimeout: '2s',
        extra: CLUSTER,
      });
      expect(r.code, r.stderr + r.stdout).toBe(0);
      const reverted = await waitFor(
        async () => {
          const s = (await f.status()).services[0]!;
          return s.desired?.revision === 1 && s.desired.reason ? s : undefined;
        },
        { timeoutMs: 30_000, intervalMs: 100, message: 'the desired revision goes back to 1' },
      );
      expect(reverted.desired!.reason).toMatch(/revision 2 reverted: .*did not pass its probe/);
      await waitFor(async () => converged(await f.status(), 1, 3, 1), {
        timeoutMs: 20_000,
        intervalMs: 200,
        message: 'every node back on r1 only',
      });
    } finally {
      const reports = await Promise.all(loads.map((l) => l.stop()));
      for (const rep of reports) expect(rep.failed, rep.errors.join('\n')).toBe(0);
      for (const rep of reports) expect([...rep.bodies.keys()]).toEqual(['hello from v1']);
    }
    const events = f.events();
    // One agent saw the failure and reverted for everybody; no instance of r2 ever took traffic.
    expect(events.filter((e) => e.type === 'revert')).toHaveLength(1);
    expect(events.filter((e) => e.type === 'update.end' && e.revision === 2)).toHaveLength(0);
    const store = await NatsStore.connect({ servers: f.nats.urls, auth: f.natsAuth });
    try {
      const repo = new Repo(store);
      const rev2 = await repo.getRevision('hello', 2);
      expect(rev2).toMatchObject({ status: 'failed' });
      expect(rev2!.reason).toMatch(/did not pass its probe/);
      const audit = await repo.listAudit({ service: 'hello' });
      expect(audit.some((a) => a.action === 'cluster.revert' && a.result === 'failed')).toBe(true);
      // r1, recorded active when every node first ran it, stays the current, active revision.
      await waitFor(async () => (await repo.getRevision('hello', 1))?.status === 'active', {
        timeoutMs: 20_000,
        message: 'r1 recorded active',
      });
      expect((await repo.getService('hello'))?.current).toBe(1);
      expect((await repo.getRevision('hello', 2))?.status).toBe('failed');
    } finally {
      await store.close();
    }
  });

  it('maintenance on one node: no remediation there until resume; refused transitions say why', async () => {
    const [n1, n2] = f.agents as [(typeof f.agents)[0], (typeof f.agents)[0]];
    const m = await f.cli(['transition', 'hello', 'maintenance', '--node', 'n2', '--json']);
    expect(m.code, m.stderr + m.stdout).toBe(0);
    expect(JSON.parse(m.stdout).replies).toEqual([
      expect.objectContaining({
        node: 'n2',
        results: [expect.objectContaining({ from: 'RUN', to: 'MAINTENANCE', ok: true })],
      }),
    ]);
    const refused = await f.cli(['transition', 'hello', 'resume', '--node', 'n1']);
    expect(refused.code).toBe(1);
    expect(refused.stdout).toMatch(/n1 +slot 0 +RUN → refused: resume is only allowed from MAINTENANCE/);

    const before = f.events().length;
    const pid1 = instancePid(n1.dataDir);
    const pid2 = instancePid(n2.dataDir);
    process.kill(-pid1, 'SIGKILL');
    process.kill(-pid2, 'SIGKILL');
    // n1 remediates: its instance is restarted (a positive control for the time n2 had to act).
    await waitFor(
      () =>
        f.events('n1').some((e) => e.type === 'restart.end' && e.healthy) && instancePid(n1.dataDir) !== pid1,
      {
        timeoutMs: 20_000,
        message: 'n1 restarts its killed instance',
      },
    );
    expect(
      f
        .events('n2')
        .slice(0)
        .filter((e) => e.type.startsWith('restart')),
    ).toHaveLength(0);
    expect(alive(pid2)).toBe(false);
    const s = await f.status();
    expect(s.services[0]!.nodes.find((n) => n.node === 'n2')!.slots[0]!.state).toBe('MAINTENANCE');

    const r = await f.cli(['transition', 'hello', 'resume', '--node', 'n2']);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    await waitFor(async () => converged(await f.status(), 1, 3, 1), {
      timeoutMs: 20_000,
      intervalMs: 200,
      message: 'n2 remediates after resume',
    });
    expect(
      f
        .events('n2')
        .slice(0)
        .some((e) => e.type === 'restart.end' && e.healthy),
    ).toBe(true);
    expect(before).toBeGreaterThan(0);
  });

  it('touching a watched file restarts that service’s instance on that node only', async () => {
    const [n1, n2, n3] = f.agents as [(typeof f.agents)[0], (typeof f.agents)[0], (typeof f.agents)[0]];
    const pids = [instancePid(n1.dataDir), instancePid(n2.dataDir), instancePid(n3.dataDir)];
    const restartsBefore = f.events().filter((e) => e.type === 'restart.end').length;
    const later = new Date(Date.now() + 5000);
    utimesSync(join(n3.dataDir, 'restart.txt'), later, later);
    await waitFor(
      () =>
        instancePid(n3.dataDir) !== pids[2] &&
        f.events('n3').some((e) => e.type === 'restart.start' && e.why === 'a watched file changed'),
      {
        timeoutMs: 20_000,
        message: 'n3 restarts its instance',
      },
    );
    await waitFor(async () => converged(await f.status(), 1, 3, 1), { timeoutMs: 20_000, intervalMs: 200 });
    expect(instancePid(n1.dataDir)).toBe(pids[0]);
    expect(instancePid(n2.dataDir)).toBe(pids[1]);
    const restarts = f
      .events()
      .filter((e) => e.type === 'restart.end')
      .slice(restartsBefore);
    expect(restarts.map((e) => e.node)).toEqual(['n3']);
  });

  it('stop drains one node’s instance out of every router before stopping it; restart brings it back', async () => {
    const loads = f.agents.map((a) => startLoad(`http://127.0.0.1:${a.port}`, { rps: 40 }));
    try {
      const stop = await f.cli(['transition', 'hello', 'stop', '--node', 'n1']);
      expect(stop.code, stop.stderr + stop.stdout).toBe(0);
      expect(stop.stdout).toMatch(/n1 +slot 0 +RUN → STOP/);
      await waitFor(
        async () => {
          const slot = (await f.status()).services[0]!.nodes.find((n) => n.node === 'n1')!.slots[0]!;
          return slot.state === 'STOP' && !slot.registered && !slot.healthy;
        },
        { timeoutMs: 20_000, intervalMs: 200, message: 'n1 stopped and deregistered' },
      );
      const nodes = await f.cli(['nodes']);
      expect(nodes.stdout).toMatch(/^n1 .*states \{STOP: 1\}/m);
      expect(nodes.stdout).toMatch(/^n2 .*states \{RUN: 1\}/m);
      const st = await f.cli(['status', '--cluster']);
      expect(st.stdout).toMatch(/^hello {2}desired r1 .* 2\/3 serving it/m);
      expect(st.stdout).toMatch(/n1 {2}slot 0 {2}STOP .* can: restart/);
      const refused = await f.cli(['transition', 'hello', 'update', '--node', 'n1']);
      expect(refused.code).toBe(1);
      expect(refused.stdout).toMatch(/refused: the instance is stopped; restart it first/);
      const back = await f.cli(['transition', 'hello', 'restart', '--node', 'n1']);
      expect(back.code, back.stderr + back.stdout).toBe(0);
      await waitFor(async () => converged(await f.status(), 1, 3, 1), {
        timeoutMs: 20_000,
        intervalMs: 200,
        message: 'n1 serves again',
      });
    } finally {
      const reports = await Promise.all(loads.map((l) => l.stop()));
      for (const rep of reports) expect(rep.failed, rep.errors.join('\n')).toBe(0);
    }
  });

  it('set-tag refuses a process service, saying why; nothing changes', async () => {
    const before = (await f.status()).services[0]!.desired;
    const r = await f.cli(['set-tag', 'hello', 'v9']);
    expect(r.code).toBe(2);
    expect(r.stdout + r.stderr).toMatch(/hello runs as a process service, which has no image tag/);
    expect((await f.status()).services[0]!.desired).toEqual(before);
  });
});
