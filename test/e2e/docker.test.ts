import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildHelloImage, HELLO_REPO, removeTestArtifacts } from '../fixtures/docker/build-hello-image.js';
import { baton, type Daemon, freePort, startDaemon, type Workspace, workspace } from '../helpers/baton.js';
import { type DockerSpec, helloDockerYaml } from '../helpers/docker-spec.js';
import { startLoad } from '../helpers/load.js';
import { requireDocker } from '../helpers/services.js';
import { waitFor } from '../helpers/wait.js';

const ok = requireDocker();
const TAG = `e2e-${process.pid}`;
const dockerYaml = (listen: number, s: DockerSpec) => helloDockerYaml(listen, { tag: TAG, ...s });

interface DeployJson {
  ok: boolean;
  results: Array<{ ok: boolean; revision: number; message: string; state: string }>;
}

describe.skipIf(!ok)('runtime: docker end to end, behind the embedded proxy', () => {
  let ws: Workspace;
  let daemon: Daemon;
  let port: number;
  let base: string;
  const owner = () => `baton.owner=${ws.dataDir}`;
  const containers = () =>
    spawnSync('docker', ['ps', '-a', '--filter', `label=${owner()}`, '--format', '{{.Names}} {{.State}}'], {
      encoding: 'utf8',
    })
      .stdout.split('\n')
      .filter(Boolean)
      .sort();
  const deploy = async (s: DockerSpec, args: string[] = ['--json']) => {
    writeFileSync(ws.specFile, dockerYaml(port, s));
    return baton(['deploy', '-f', ws.specFile, ...args], { dataDir: ws.dataDir });
  };

  beforeAll(async () => {
    buildHelloImage(TAG);
    ws = workspace();
    port = await freePort();
    base = `http://127.0.0.1:${port}`;
    daemon = await startDaemon(ws.dataDir);
    const r = await deploy({ version: 'v1' });
    if (r.code !== 0) throw new Error(`first deploy failed: ${r.stdout}${r.stderr}`);
  }, 120_000);

  afterAll(async () => {
    await daemon?.kill();
    if (ws) removeTestArtifacts({ containers: owner() });
    removeTestArtifacts({ images: [`${HELLO_REPO}:${TAG}`] });
    await ws?.cleanup();
  }, 60_000);

  it('v1 → v2 → rollback under continuous load: 0 failed requests', async () => {
    const load = startLoad(base, { rps: 150 });
    const v2 = await deploy({ version: 'v2' });
    expect(v2.code, v2.stdout + v2.stderr).toBe(0);
    expect((await (await fetch(`${base}/`)).text()).trim()).toBe('hello from v2');
    const back = await baton(['rollback', 'hello'], { dataDir: ws.dataDir });
    expect(back.code, back.stdout + back.stderr).toBe(0);
    expect((await (await fetch(`${base}/`)).text()).trim()).toBe('hello from v1');
    const report = await load.stop();
    expect(report.errors, report.errors.join('; ')).toEqual([]);
    expect(report.failed).toBe(0);
    expect(report.sent).toBeGreaterThan(300);
    expect([...report.bodies.keys()].sort()).toEqual(['hello from v1', 'hello from v2']);
    // Exactly the two containers of the serving revision are left.
    expect(containers().map((c) => c.split(' ')[1])).toEqual(['running', 'running']);
  }, 180_000);

  it('a crashed container is restarted by the supervisor on a new host port, and the proxy follows it', async () => {
    const status = async () =>
      (
        JSON.parse((await baton(['status', '--json'], { dataDir: ws.dataDir })).stdout) as {
          services: Array<{
            instances: Array<{ id: string; port: number; state: string; healthy: boolean; restarts: number }>;
          }>;
        }
      ).services[0]!.instances;
    const [victim, other] = await status();
    spawnSync('docker', ['kill', victim!.id]);
    const back = await waitFor(
      async () => {
        const i = (await status()).find((x) => x.id === victim!.id);
        return i?.state === 'running' && i.healthy && i.restarts >= 1 && i;
      },
      { timeoutMs: 30_000, message: 'the killed container to be restarted and healthy' },
    );
    expect(back.port).not.toBe(victim!.port);
    // Only the restarted container is left to serve: the proxy must reach it at its new port.
    spawnSync('docker', ['stop', '-t', '5', other!.id]);
    for (let n = 0; n < 20; n++) expect((await fetch(`${base}/`)).status).toBe(200);
    await waitFor(async () => (await status()).every((i) => i.state === 'running' && i.healthy), {
      timeoutMs: 30_000,
      message: 'both containers to serve again',
    });
  }, 90_000);

  const failures: Array<{ name: string; spec: DockerSpec; expect: RegExp }> = [
    {
      name: 'exits on boot',
      spec: { version: 'v3', env: { CRASH_ON_BOOT: '1' } },
      expect:
        /instance hello-r\d+-[0-9a-f]+-1 exited with code 1 before it became healthy[\s\S]*CRASH_ON_BOOT/,
    },
    {
      name: 'never passes its probe',
      spec: { version: 'v3', env: { HEALTH: 'fail' }, startTimeout: '2s' },
      expect:
        /instance hello-r\d+-[0-9a-f]+-1 did not pass its probe within 2s; last probe: HTTP 500 from GET \/health/,
    },
    {
      name: 'names an image that does not exist',
      spec: { version: 'v3', tag: 'absent' },
      expect: new RegExp(`image ${HELLO_REPO}:absent not found locally and could not be pulled`),
    },
  ];
  for (const c of failures) {
    it(`a revision that ${c.name}: deploy exits 1 with a clear error; v1 keeps serving, 0 failed requests`, async () => {
      const before = containers();
      const load = startLoad(base, { rps: 150 });
      const r = await deploy(c.spec);
      expect(r.code, r.stderr).toBe(1);
      const result = (JSON.parse(r.stdout) as DeployJson).results[0]!;
      expect(result.state).toBe('rolled-back');
      expect(result.message).toMatch(c.expect);
      expect(result.message).toMatch(/keeps serving/);
      const report = await load.stop();
      expect(report.errors, report.errors.join('; ')).toEqual([]);
      expect(report.failed).toBe(0);
      expect([...report.bodies.keys()]).toEqual(['hello from v1']);
      expect(containers()).toEqual(before);
    }, 120_000);
  }

  it('baton doctor: all good for this spec; names a missing image and exits 1', async () => {
    writeFileSync(ws.specFile, dockerYaml(port, { version: 'v1' }));
    const good = await baton(['doctor', '-f', ws.specFile, '--json'], { dataDir: ws.dataDir });
    expect(good.code, good.stdout + good.stderr).toBe(0);
    const report = JSON.parse(good.stdout) as {
      ok: boolean;
      checks: Array<{ name: string; status: string }>;
    };
    expect(report.checks.map((c) => [c.name, c.status])).toEqual([
      ['data dir', 'ok'],
      ['control plane', 'ok'],
      ['embedded proxy', 'ok'],
      ['spec', 'ok'],
      ['docker socket', 'ok'],
      ['docker daemon', 'ok'],
      ['image of hello', 'ok'],
    ]);
    writeFileSync(
      ws.specFile,
      dockerYaml(port, { version: 'v1', tag: 'absent' }).replace('port: 3000', 'port: 3000\n    pull: never'),
    );
    const bad = await baton(['doctor', '-f', ws.specFile], { dataDir: ws.dataDir });
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(new RegExp(`✗ image of hello: ${HELLO_REPO}:absent is not present`));
    expect(bad.stdout).toMatch(/fix: build or load/);
    const down = await baton(['doctor', '-f', ws.specFile, '--json'], {
      dataDir: ws.dataDir,
      env: { DOCKER_HOST: 'unix:///nonexistent.sock' },
    });
    expect(down.code).toBe(1);
    expect(JSON.parse(down.stdout).checks).toContainEqual(
      expect.objectContaining({ name: 'docker socket', status: 'fail' }),
    );
  }, 60_000);
});
