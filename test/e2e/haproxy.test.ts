import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBatch } from '../../src/router/haproxy/socket.js';
import { parseServerStats, type ServerStat } from '../../src/router/haproxy/stat.js';
import {
  baton,
  type Daemon,
  type HelloSpec,
  type StatusJson,
  startDaemon,
  type Workspace,
  workspace,
  writeHello,
} from '../helpers/baton.js';
import { type HaproxyInstance, requireHaproxy, startHaproxy } from '../helpers/haproxy.js';
import { startLoad } from '../helpers/load.js';
import { waitFor } from '../helpers/wait.js';

const ok = requireHaproxy();
const RECONCILE_MS = 1000;

/** Baton's servers (`baton-…`) in backend `web` of one HAProxy, from `show stat`. */
async function batonServers(h: HaproxyInstance): Promise<ServerStat[]> {
  const [csv] = await runBatch(h.socket, ['show stat web 4 -1']);
  return [...parseServerStats(csv ?? '', 'web').values()].filter((s) => s.name.startsWith('baton-'));
}

async function body(url: string): Promise<string> {
  return (await (await fetch(url)).text()).trim();
}

/**
 * The embedded control plane driving two real HAProxy processes (master-worker, admin sockets) with the
 * process runtime: every strategy, canary weights as server weights, and a reload in steady state.
 */
describe.skipIf(!ok)('router: haproxy end to end (two HAProxy instances, process runtime)', () => {
  let h1: HaproxyInstance;
  let h2: HaproxyInstance;
  let ws: Workspace;
  let daemon: Daemon;
  const port = () => Number(new URL(h1.url).port);
  const router = () =>
    `{ kind: haproxy, sockets: [${h1.socket}, ${h2.socket}], backend: web, reconcileInterval: ${RECONCILE_MS}ms, serverOptions: "check inter 200ms fall 2 rise 1" }`;
  const deploy = (spec: Omit<HelloSpec, 'listen' | 'router'>, args: string[] = []) => {
    writeHello(ws, { ...spec, listen: port(), router: router() });
    return baton(['deploy', '-f', ws.specFile, ...args], { dataDir: ws.dataDir });
  };
  const status = async () =>
    (JSON.parse((await baton(['status', '--json'], { dataDir: ws.dataDir })).stdout) as StatusJson)
      .services[0]!;

  beforeAll(async () => {
    [h1, h2] = await Promise.all([startHaproxy(), startHaproxy()]);
    ws = workspace();
    daemon = await startDaemon(ws.dataDir);
    const r = await deploy({ version: 'v1' });
    if (r.code !== 0) throw new Error(`first deploy failed: ${r.stdout}${r.stderr}`);
  }, 60_000);

  afterAll(async () => {
    await daemon?.kill();
    await ws?.cleanup();
    await Promise.all([h1?.stop(), h2?.stop()]);
  }, 60_000);

  it('replace, rolling, blue-green and canary each deploy under load through both HAProxies: 0 failed requests', async () => {
    const loads = [startLoad(h1.url, { rps: 80 }), startLoad(h2.url, { rps: 80 })];
    const strategies: Array<[string, string]> = [
      ['v2', '{ type: replace }'],
      ['v3', '{ type: rolling, maxSurge: 1, maxUnavailable: 0 }'],
      ['v4', '{ type: blue-green, autoPromote: 500ms, scaleDownDelay: 0s }'],
      ['v5', '{ type: canary, steps: [{ setWeight: 25 }, { pause: 1s }, { setWeight: 75 }, { pause: 1s }] }'],
    ];
    for (const [version, strategy] of strategies) {
      const r = await deploy({ version, strategy });
      expect(r.code, `${strategy}: ${r.stdout}${r.stderr}`).toBe(0);
      expect(await body(`${h1.url}/`)).toBe(`hello from ${version}`);
      expect(await body(`${h2.url}/`)).toBe(`hello from ${version}`);
    }
    const reports = await Promise.all(loads.map((l) => l.stop()));
    for (const report of reports) {
      expect(report.errors, report.errors.join('; ')).toEqual([]);
      expect(report.failed).toBe(0);
      expect(report.bodies.get('hello from v5')).toBeGreaterThan(0);
    }
    // Exactly the serving revision's two servers are left in HAProxy, on both instances.
    const ids = (await status()).instances.map((i) => `baton-${i.id}`).sort();
    for (const h of [h1, h2]) expect((await batonServers(h)).map((s) => s.name).sort()).toEqual(ids);
  }, 180_000);

  it('a canary split is HAProxy server weights: 25% of requests reach the canary on both instances', async () => {
    const deploying = deploy({
      version: 'v6',
      strategy: '{ type: canary, steps: [{ setWeight: 25 }, { pause: {} }] }',
    });
    await waitFor(async () => (await status()).waiting === 'promotion', {
      timeoutMs: 30_000,
      message: 'the canary to wait for promotion',
    });
    for (const h of [h1, h2]) {
      let canary = 0;
      const N = 400;
      for (let i = 0; i < N; i++) if ((await body(`${h.url}/`)) === 'hello from v6') canary++;
      expect(canary / N).toBeGreaterThan(0.2);
      expect(canary / N).toBeLessThan(0.3);
    }
    const promote = await baton(['promote', 'hello'], { dataDir: ws.dataDir });
    expect(promote.code, promote.stderr).toBe(0);
    const r = await deploying;
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(await body(`${h2.url}/`)).toBe('hello from v6');
    for (const h of [h1, h2]) for (const s of await batonServers(h)) expect(s.weight).toBe(1);
  }, 120_000);

  it('a healthy canary is promoted by the analysis on HAProxy counters (error rate; no latency histogram)', async () => {
    const loads = [startLoad(h1.url, { rps: 100 }), startLoad(h2.url, { rps: 100 })];
    const r = await deploy({
      version: 'v7',
      strategy: '{ type: canary, steps: [{ setWeight: 50 }], analysis: { interval: 1s } }',
    });
    const reports = await Promise.all(loads.map((l) => l.stop()));
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stderr).toMatch(/analysis: promote.*latency not measured by this router/);
    for (const report of reports) expect(report.failed).toBe(0);
  }, 120_000);

  it('baton doctor checks each stats socket: answering, level admin, the backend declared; says what to fix', async () => {
    writeHello(ws, { version: 'v7', listen: port(), router: router() });
    const good = await baton(['doctor', '-f', ws.specFile, '--json'], { dataDir: ws.dataDir });
    expect(good.code, good.stdout + good.stderr).toBe(0);
    const checks = (JSON.parse(good.stdout) as { checks: Array<{ name: string; status: string }> }).checks;
    // Without server-template slots, reloads are kept by reconcile only: a warning naming the lines to add.
    const reloads = checks.filter((c) => c.name.startsWith('reloads of backend'));
    expect(reloads.map((c) => c.status)).toEqual(['warn', 'warn']);
    expect((reloads[0] as { fix?: string }).fix).toMatch(/server-template baton-slot .* disabled/);
    expect(checks.filter((c) => /^haproxy|^backend/.test(c.name)).map((c) => c.status)).toEqual([
      'ok',
      'ok',
      'ok',
      'ok',
    ]);
    const operator = await startHaproxy({ level: 'operator' });
    try {
      const bad = `{ kind: haproxy, sockets: [${operator.socket}, ${h1.dir}/missing.sock], backend: nope }`;
      writeHello(ws, { version: 'v7', listen: port(), router: bad });
      const r = await baton(['doctor', '-f', ws.specFile], { dataDir: ws.dataDir });
      expect(r.code).toBe(1);
      expect(r.stdout).toMatch(/✗ backend nope of hello on .*: the stats socket is not at level admin/);
      expect(r.stdout).toMatch(/fix: stats socket .* level admin/);
      expect(r.stdout).toMatch(/✗ haproxy .*missing\.sock: haproxy is not answering on stats socket/);
      writeHello(ws, {
        version: 'v7',
        listen: port(),
        router: `{ kind: haproxy, sockets: [${h1.socket}], backend: nope }`,
      });
      const nb = await baton(['doctor', '-f', ws.specFile], { dataDir: ws.dataDir });
      expect(nb.code).toBe(1);
      expect(nb.stdout).toMatch(/HAProxy has no backend "nope"[\s\S]*fix: declare "backend nope"/);
    } finally {
      await operator.stop();
    }
  }, 60_000);

  it('HAProxy reloaded in steady state: the next reconcile puts every Baton server back at once; no failed request after', async () => {
    const ids = (await status()).instances.map((i) => `baton-${i.id}`).sort();
    const logFrom = daemon.output().length;
    const reapplied = () =>
      daemon
        .output()
        .slice(logFrom)
        .split('\n')
        .filter((l) => l.includes('re-applied them'));
    await h1.reload();
    // Measured in reconcile passes, not milliseconds (how soon depends on the machine's load): when the
    // first pass that noticed the reload has logged, every server is back — a pass that missed some
    // would leave them to the next one, a whole interval later.
    await waitFor(() => reapplied().some((l) => l.includes(h1.socket)), {
      timeoutMs: 20 * RECONCILE_MS,
      message: 'a reconcile pass to notice the reload',
    });
    expect((await batonServers(h1)).map((s) => s.name).sort()).toEqual(ids);
    expect(reapplied().filter((l) => l.includes(h1.socket))).toHaveLength(1);
    expect(reapplied().filter((l) => l.includes(h2.socket))).toHaveLength(0);
    await waitFor(async () => (await batonServers(h1)).every((s) => s.status === 'UP'), {
      timeoutMs: 5_000,
      message: 'the restored servers to pass their HAProxy checks',
    });
    const load = startLoad(h1.url, { rps: 100 });
    await waitFor(() => load.report.sent >= 150, {
      timeoutMs: 10_000,
      message: '150 requests after the reload',
    });
    const report = await load.stop();
    expect(report.errors, report.errors.join('; ')).toEqual([]);
    expect(report.failed).toBe(0);
    expect(daemon.output()).toMatch(/re-applied them/);
  }, 60_000);
});
