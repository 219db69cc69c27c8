import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient } from '../../src/cli/client.js';
import {
  baton,
  type HelloFixture,
  type HistoryJson,
  helloFixture,
  startDaemon,
  writeHello,
} from '../helpers/baton.js';
import { expectOnlyProcesses, instanceProcesses } from '../helpers/fault-injection.js';
import { startLoad } from '../helpers/load.js';
import { waitFor } from '../helpers/wait.js';

interface StatusJson {
  services: Array<{
    service: string;
    current: number;
    instances: Array<{ id: string; pid: number; state: string; routed: string }>;
  }>;
}

const instancesOf = async (dataDir: string) => {
  const r = await baton(['status', '--json'], { dataDir });
  expect(r.code, r.stderr).toBe(0);
  return (JSON.parse(r.stdout) as StatusJson).services[0]!.instances.map((i) => ({
    id: i.id,
    pid: i.pid,
    state: i.state,
    routed: i.routed,
  }));
};

describe('the control plane can die without dropping traffic', () => {
  let f: HelloFixture;

  beforeAll(async () => {
    f = await helloFixture({ version: 'v1' });
  });

  afterAll(async () => {
    await f?.close();
  });

  it('SIGKILL while idle, then restart: instances adopted, not duplicated', async () => {
    const before = await instancesOf(f.ws.dataDir);
    expect(before).toHaveLength(2);
    await f.daemon.kill('SIGKILL');
    // Traffic does not depend on the control plane.
    const r = await fetch(`${f.base}/`);
    expect((await r.text()).trim()).toBe('hello from v1');
    f.daemon = await startDaemon(f.ws.dataDir);
    expect(await instancesOf(f.ws.dataDir)).toEqual(before);
  });

  it('SIGKILL during steady load, restart: 0 failed requests, same instances, and deploys work again', async () => {
    const before = await instancesOf(f.ws.dataDir);
    const load = startLoad(f.base, { rps: 200 });
    await waitFor(() => load.report.ok > 200, { message: 'load to be flowing' });
    await f.daemon.kill('SIGKILL');
    await waitFor(() => load.report.ok > 500, { message: 'load to keep flowing without a control plane' });
    f.daemon = await startDaemon(f.ws.dataDir);
    // Give the restarted supervisor a few probe rounds under load.
    await waitFor(() => load.report.ok > 900, { message: 'load to keep flowing after restart' });
    expect(await instancesOf(f.ws.dataDir)).toEqual(before);

    writeHello(f.ws, { version: 'v2', listen: f.port });
    const d = await baton(['deploy', '-f', f.ws.specFile], { dataDir: f.ws.dataDir });
    expect(d.code, d.stderr).toBe(0);
    const report = await load.stop();
    expect(report.errors).toEqual([]);
    expect(report.failed).toBe(0);
    const after = await instancesOf(f.ws.dataDir);
    expect(after).toHaveLength(2);
    expect(after.every((i) => i.id.startsWith('hello-r2-'))).toBe(true);
  });

  it('SIGKILL in the middle of a deploy: the restarted control plane restores the serving revision, nothing orphaned', async () => {
    const serving = await instancesOf(f.ws.dataDir);
    const load = startLoad(f.base, { rps: 200 });
    // Boots far slower than the test waits, so the kill surely lands in await-healthy (before any
    // traffic moved) and the restart rolls back; a loaded machine cannot make it healthy first.
    writeHello(f.ws, { version: 'v3', listen: f.port, env: { BOOT_DELAY_MS: '60000' }, startTimeout: '90s' });
    const deploying = baton(['deploy', '-f', f.ws.specFile], { dataDir: f.ws.dataDir });
    await waitFor(async () => (await instancesOf(f.ws.dataDir)).some((i) => i.id.startsWith('hello-r3-')), {
      message: 'the v3 deploy to start an instance',
    });
    await f.daemon.kill('SIGKILL');
    const d = await deploying;
    expect(d.code).not.toBe(0);
    f.daemon = await startDaemon(f.ws.dataDir);
    const after = await instancesOf(f.ws.dataDir);
    expect(after).toEqual(serving);
    const report = await load.stop();
    expect(report.errors).toEqual([]);
    expect(report.failed).toBe(0);
    const h = await baton(['history', 'hello', '--json'], { dataDir: f.ws.dataDir });
    const history = JSON.parse(h.stdout) as {
      current: number;
      revisions: Array<{ number: number; status: string }>;
    };
    expect(history.current).toBe(2);
    expect(history.revisions.find((r) => r.number === 3)?.status).toBe('failed');
  });

  it('SIGKILL while a failed deploy rolls back: the restarted control plane finishes the rollback, nothing orphaned', async () => {
    // Its own service name: the /proc scan must not count another test's hello instances.
    const service = `crash-rollback-${Math.random().toString(36).slice(2, 8)}`;
    const g = await helloFixture({ service, version: 'v1' });
    const load = startLoad(g.base, { rps: 100 });
    try {
      const serving = (await g.status()).instances.map((i) => i.pid).sort((a, b) => a - b);
      expect(serving).toHaveLength(2);
      // Rolling, 2 replicas: step 1 starts a v2 instance, step 2 waits for its probe, which fails; the
      // rollback's steps are journaled next (3, …): the control plane dies as the first one begins.
      await g.restart('SIGTERM', { BATON_TEST_KILL_AT: '3:begin' });
      const r = await g.deploy({ version: 'v2', env: { HEALTH: 'fail' }, startTimeout: '1s' });
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(/did not pass its probe within 1s/);
      await waitFor(() => g.daemon.child.exitCode !== null || g.daemon.child.signalCode !== null, {
        message: 'the control plane to die in the rollback',
      });
      // Died before the rollback stopped anything: the v2 instance is still running, for the restart to find.
      expect(instanceProcesses(service)).toHaveLength(3);
      await g.restart('SIGKILL');
      await waitFor(
        async () => {
          const s = await g.status();
          return (
            !s.lock &&
            s.instances.length === 2 &&
            s.instances.every((i) => i.revision === 1 && i.routed === 'active' && i.healthy)
          );
        },
        { timeoutMs: 60_000, message: 'the rollback to be finished by the restarted control plane' },
      );
      // The same two v1 processes serve; the v2 one is gone (polled: it may take its stopTimeout to exit).
      expect((await g.status()).instances.map((i) => i.pid).sort((a, b) => a - b)).toEqual(serving);
      await expectOnlyProcesses(service, serving, 'after the interrupted rollback was finished');
      const h = await ApiClient.from({ dataDir: g.ws.dataDir }).json<HistoryJson>(
        'GET',
        `/v1/services/${service}/history?limit=10`,
      );
      const d = h.deployments.find((x) => x.toRevision === 2);
      expect(d?.state).toBe('rolled-back');
      expect(d?.error).toMatch(
        /did not pass its probe[\s\S]*interrupted: the control plane stopped during the rollback/,
      );
      expect(h.current).toBe(1);
      const report = await load.stop();
      expect(report.errors).toEqual([]);
      expect(report.failed).toBe(0);
    } finally {
      await load.stop();
      await g.close();
    }
  }, 180_000);
});
