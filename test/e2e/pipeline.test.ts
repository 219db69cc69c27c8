import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeTestArtifacts, writeHelloContext } from '../fixtures/docker/build-hello-image.js';
import {
  baton,
  CLI,
  type Daemon,
  freePort,
  HELLO,
  startDaemon,
  type Workspace,
  workspace,
} from '../helpers/baton.js';
import { startLoad } from '../helpers/load.js';
import { type Registry, requireRegistry, startRegistry } from '../helpers/registry.js';
import { requireDocker } from '../helpers/services.js';
import { waitFor } from '../helpers/wait.js';

/**
 * The ECS pipeline seed on real parts: a local registry (Debian's docker-registry), two `baton serve`
 * daemons as staging and production, images built from a local `FROM scratch` context through the Engine
 * API. One set of daemons and one registry serve every case, in order (each builds on the one before).
 */
const ok = requireDocker() && requireRegistry();
const REPO = 'baton-test/pipeline-hello';
const SHA_A = 'a1a1a1a';
const SHA_B = 'b2b2b2b';

interface Env {
  ws: Workspace;
  daemon: Daemon;
  port: number;
  token: string;
}

interface ReleaseJson {
  ok: boolean;
  rule: string;
  stages: Array<{ stage: string; ok: boolean; ms: number; detail: string }>;
  deployed: Array<{
    environment: string;
    service: string;
    from: number | null;
    revision: number;
    changed: boolean;
  }>;
  rolledBack: Array<{ service: string; from: number }>;
}

describe.skipIf(!ok)(
  'baton release, environments and baton run, on a registry and two control planes',
  () => {
    let registry: Registry;
    let home: Workspace;
    let staging: Env;
    let production: Env;
    let image: string;
    let localPort: number;

    const yaml = (o: { stagingCheck?: string; stagingVersion?: string } = {}) => `services:
  hello:
    runtime: docker
    image: ${image}
    tag: ${SHA_A}
    port: 3000
    env: { VERSION: local }
    replicas: 1
    probe: { http: { path: /health }, interval: 200ms, timeout: 1s, startTimeout: 20s }
    traffic: { listen: "127.0.0.1:${localPort}", drainTimeout: 10s }
    strategy: { type: rolling, maxSurge: 1, maxUnavailable: 0 }
    stopTimeout: 5s
environments:
  staging:
    api: ${staging.daemon.url}
    token: { file: ${join(staging.ws.dataDir, 'token')} }
    checks:
      - http: { url: "http://127.0.0.1:${staging.port}/", bodyContains: "${o.stagingCheck ?? 'hello from'}" }
    services:
      hello:
        env: { VERSION: ${o.stagingVersion ?? 'staging'} }
        traffic: { listen: "127.0.0.1:${staging.port}" }
  production:
    api: ${production.daemon.url}
    token: { env: PROD_TOKEN }
    checks:
      - http: { url: "http://127.0.0.1:${production.port}/health" }
    services:
      hello:
        env: { VERSION: production }
        traffic: { listen: "127.0.0.1:${production.port}" }
pipeline:
  test: test -f app/Dockerfile
  build:
    hello: { context: ./app }
  refs:
    refs/heads/main: { build: true, deploy: production }
    refs/tags/*-staging: { deploy: staging }
    refs/tags/*-prod: { deploy: production }
    refs/heads/*-dev: { build: true }
`;
    const write = (o?: Parameters<typeof yaml>[0]) => writeFileSync(home.specFile, yaml(o));
    const cli = (args: string[], env: NodeJS.ProcessEnv = {}) =>
      baton([...args], {
        dataDir: home.dataDir,
        cwd: home.dir,
        env: { PROD_TOKEN: production.token, ...env },
      });
    const release = async (ref: string, sha: string) => {
      const r = await cli(['release', '--ref', ref, '--sha', sha, '--json']);
      return { ...r, json: JSON.parse(r.stdout || '{}') as ReleaseJson };
    };
    /** The serving revision of hello on a control plane, straight from its API (null: never deployed). */
    const current = async (e: Env) => {
      const r = await fetch(`${e.daemon.url}/v1/status`, { headers: { authorization: `Bearer ${e.token}` } });
      const s = ((await r.json()) as { services: Array<{ service: string; current: number | null }> })
        .services;
      return s.find((x) => x.service === 'hello')?.current ?? null;
    };
    const body = async (port: number) => (await (await fetch(`http://127.0.0.1:${port}/`)).text()).trim();

    const startEnv = async (): Promise<Env> => {
      const ws = workspace();
      const daemon = await startDaemon(ws.dataDir);
      return {
        ws,
        daemon,
        port: await freePort(),
        token: readFileSync(join(ws.dataDir, 'token'), 'utf8').trim(),
      };
    };

    beforeAll(async () => {
      // One after the other: two daemons starting at once on a loaded 2-core machine can miss startDaemon's wait.
      registry = await startRegistry();
      staging = await startEnv();
      production = await startEnv();
      image = `${registry.host}/${REPO}`;
      localPort = await freePort();
      home = workspace();
      mkdirSync(join(home.dir, 'app'));
      writeHelloContext(join(home.dir, 'app'));
      write();
    }, 120_000);

    afterAll(async () => {
      for (const e of [staging, production]) {
        await e?.daemon.kill();
        if (e) removeTestArtifacts({ containers: `baton.owner=${e.ws.dataDir}` });
        await e?.ws.cleanup();
      }
      removeTestArtifacts({ images: [SHA_A, SHA_B, 'x-dev', 'main'].map((t) => `${image}:${t}`) });
      await registry?.stop();
      await home?.cleanup();
    }, 120_000);

    it('refs/heads/x-dev builds and pushes only: the registry has the tags, neither daemon changed', async () => {
      const r = await release('refs/heads/x-dev', SHA_A);
      expect(r.code, r.stderr + r.stdout).toBe(0);
      expect(r.json.stages.map((s) => [s.stage, s.ok])).toEqual([
        ['test', true],
        ['build hello', true],
        ['push hello', true],
      ]);
      expect(r.json.stages.every((s) => typeof s.ms === 'number')).toBe(true);
      expect(await registry.tags(REPO)).toEqual([SHA_A, 'x-dev']);
      expect([await current(staging), await current(production)]).toEqual([null, null]);
    }, 300_000);

    it('--dry-run lists the stages and does nothing', async () => {
      const r = await cli(['release', '--ref', 'refs/tags/v1-prod', '--sha', SHA_A, '--dry-run']);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/rule: refs\/tags\/\*-prod/);
      expect(r.stdout).toMatch(/1\. deploy to production: hello \(images tagged a1a1a1a\)/);
      expect(r.stdout).toMatch(/2\. checks on production: 1 check/);
      expect(await current(production)).toBe(null);
    });

    it('refs/tags/v1-staging deploys to staging only and its check passes through staging’s proxy; v1-prod to production', async () => {
      const s = await release('refs/tags/v1-staging', SHA_A);
      expect(s.code, s.stderr + s.stdout).toBe(0);
      expect(s.json.stages.map((x) => x.stage)).toEqual(['deploy', 'checks']);
      expect(await body(staging.port)).toBe('hello from staging');
      expect([await current(staging), await current(production)]).toEqual([1, null]);
      const p = await release('refs/tags/v1-prod', SHA_A);
      expect(p.code, p.stderr + p.stdout).toBe(0);
      expect(await body(production.port)).toBe('hello from production');
      expect([await current(staging), await current(production)]).toEqual([1, 1]);
    }, 180_000);

    it('main builds, pushes and deploys production; a -staging tag of that sha deploys staging; under load on both: 0 failed; the same sha twice deploys nothing new', async () => {
      const loads = [
        startLoad(`http://127.0.0.1:${staging.port}`, { rps: 60 }),
        startLoad(`http://127.0.0.1:${production.port}`, { rps: 60 }),
      ];
      const main = await release('refs/heads/main', SHA_B);
      expect(main.code, main.stderr + main.stdout).toBe(0);
      expect(main.json.stages.map((x) => x.stage)).toEqual([
        'test',
        'build hello',
        'push hello',
        'deploy',
        'checks',
      ]);
      expect(await registry.tags(REPO)).toEqual([SHA_A, SHA_B, 'main', 'x-dev']);
      expect([await current(staging), await current(production)]).toEqual([1, 2]);
      const s = await release('refs/tags/v2-staging', SHA_B);
      expect(s.code, s.stderr + s.stdout).toBe(0);
      expect([await current(staging), await current(production)]).toEqual([2, 2]);
      const again = await release('refs/tags/v2-staging', SHA_B);
      expect(again.code, again.stderr + again.stdout).toBe(0);
      expect(again.json.deployed).toEqual([
        { environment: 'staging', service: 'hello', from: 2, revision: 2, changed: false },
      ]);
      for (const l of loads) {
        const report = await l.stop();
        expect(report.errors, report.errors.join('; ')).toEqual([]);
        expect(report.failed).toBe(0);
        expect(report.sent).toBeGreaterThan(50);
      }
    }, 300_000);

    it('a failing check rolls that environment back, exit 1; production untouched; 0 failed requests', async () => {
      write({ stagingCheck: 'no such text', stagingVersion: 'staging-v3' });
      const load = startLoad(`http://127.0.0.1:${staging.port}`, { rps: 60 });
      const r = await release('refs/tags/v3-staging', SHA_B);
      expect(r.code, r.stderr + r.stdout).toBe(1);
      expect(r.json.stages.at(-1)).toMatchObject({ stage: 'checks', ok: false });
      expect(r.json.stages.at(-1)!.detail).toMatch(/the answer does not contain "no such text"/);
      expect(r.json.rolledBack).toMatchObject([{ service: 'hello', from: 2 }]);
      expect(await current(staging)).toBe(2);
      expect(await body(staging.port)).toBe('hello from staging');
      expect(await current(production)).toBe(2);
      const report = await load.stop();
      expect(report.failed, report.errors.join('; ')).toBe(0);
      write();
    }, 180_000);

    it('deploy --env staging --set and status --env production reach the right daemon with the right token; a wrong token exits 3', async () => {
      const d = await cli([
        'deploy',
        '--env',
        'staging',
        '--set',
        'services.hello.env.VERSION=from-flag',
        '--json',
      ]);
      expect(d.code, d.stderr + d.stdout).toBe(0);
      expect(await body(staging.port)).toBe('hello from from-flag');
      expect(await current(production)).toBe(2);
      const st = await cli(['status', '--env', 'production', '--json']);
      expect(st.code, st.stderr).toBe(0);
      expect(JSON.parse(st.stdout).services).toMatchObject([
        { service: 'hello', current: 2, listen: `127.0.0.1:${production.port}` },
      ]);
      const wrong = await cli(['status', '--env', 'production'], { PROD_TOKEN: 'not-the-token' });
      expect(wrong.code).toBe(3);
      expect(wrong.stderr).toContain(
        `the control plane at ${production.daemon.url} refused the token (HTTP 401)`,
      );
      const unset = await cli(['status', '--env', 'production'], { PROD_TOKEN: '' });
      expect(unset.code).toBe(2);
      expect(unset.stderr).toMatch(/\$PROD_TOKEN, which is not set/);
    }, 120_000);

    it('baton run hello --env-file answers with the file’s value; SIGINT leaves no container behind', async () => {
      const envFile = join(home.dir, 'local.env');
      writeFileSync(envFile, '# debugging\nVERSION="from-env-file"\n');
      const port = await freePort();
      const before = [await current(staging), await current(production)];
      const child: ChildProcess = spawn(
        process.execPath,
        [
          CLI,
          '--data-dir',
          home.dataDir,
          'run',
          'hello',
          '--tag',
          SHA_B,
          '--env-file',
          envFile,
          '--port',
          String(port),
        ],
        { cwd: home.dir, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let out = '';
      child.stdout!.on('data', (c: Buffer) => {
        out += c;
      });
      child.stderr!.on('data', (c: Buffer) => {
        out += c;
      });
      const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
      const answer = await waitFor(
        async () => (await fetch(`http://127.0.0.1:${port}/`).catch(() => undefined))?.text(),
        {
          timeoutMs: 30_000,
          message: `baton run to answer: ${out}`,
        },
      );
      expect(answer.trim()).toBe('hello from from-env-file');
      expect(out).toContain(`hello (${image}:${SHA_B}) at http://127.0.0.1:${port}`);
      const ours = () =>
        spawnSync('docker', ['ps', '-aq', '--filter', `name=baton-run-hello-${child.pid}`], {
          encoding: 'utf8',
        }).stdout.trim();
      expect(ours()).not.toBe('');
      child.kill('SIGINT');
      expect(await exited).toBe(0);
      expect(ours()).toBe('');
      expect(out).toContain('nothing left behind');
      // No control plane was touched.
      expect([await current(staging), await current(production)]).toEqual(before);
    }, 90_000);

    /** `baton run ARGS` in the foreground, as a user would start it. */
    const startRun = (args: string[]) => {
      const child: ChildProcess = spawn(process.execPath, [CLI, '--data-dir', home.dataDir, 'run', ...args], {
        cwd: home.dir,
        env: { ...process.env, PROD_TOKEN: production.token },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      child.stdout!.on('data', (c: Buffer) => {
        out += c;
      });
      child.stderr!.on('data', (c: Buffer) => {
        out += c;
      });
      const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
      return { child, exited, out: () => out };
    };

    it('baton run of a process service: the env file wins over the spec; SIGINT leaves no process behind', async () => {
      const envFile = join(home.dir, 'local.env');
      writeFileSync(envFile, 'export VERSION=from-env-file\n');
      const spec = join(home.dir, 'process.yaml');
      writeFileSync(
        spec,
        `services:\n  hi:\n    command: node\n    args: [server.js]\n    cwd: ${HELLO}\n    env: { VERSION: from-spec }\n    traffic: { listen: "127.0.0.1:${localPort}" }\n`,
      );
      const port = await freePort();
      const run = startRun(['hi', '-f', spec, '--env-file', envFile, '--port', String(port)]);
      const v = await waitFor(
        async () =>
          (await fetch(`http://127.0.0.1:${port}/version`).catch(() => undefined))?.json() as
            | Promise<{ version: string; pid: number }>
            | undefined,
        { timeoutMs: 20_000, message: 'baton run (process) to answer' },
      );
      expect(v.version).toBe('from-env-file');
      run.child.kill('SIGINT');
      expect(await run.exited).toBe(0);
      expect(() => process.kill(v.pid, 0)).toThrow();
      expect(run.out()).toContain('nothing left behind');
    }, 60_000);

    it('baton run --env staging --revision 1 runs that recorded revision (its image tag), read-only', async () => {
      const before = [await current(staging), await current(production)];
      const port = await freePort();
      const run = startRun(['hello', '--env', 'staging', '--revision', '1', '--port', String(port)]);
      const answer = await waitFor(
        async () => (await fetch(`http://127.0.0.1:${port}/`).catch(() => undefined))?.text(),
        { timeoutMs: 30_000, message: 'baton run --revision to answer' },
      );
      expect(answer.trim()).toBe('hello from staging');
      expect(run.out()).toContain(`(${image}:${SHA_A})`);
      run.child.kill('SIGINT');
      expect(await run.exited).toBe(0);
      expect([await current(staging), await current(production)]).toEqual(before);
    }, 60_000);

    it('an unknown environment in a pipeline rule: exit 2 with file:line and field path, nothing built', async () => {
      writeFileSync(home.specFile, yaml().replace('{ deploy: production }', '{ deploy: prod }'));
      const r = await cli(['release', '--ref', 'refs/tags/v9-prod', '--sha', SHA_A]);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(
        /baton\.yaml:\d+:\d+: pipeline\.refs\.refs\/tags\/\*-prod\.deploy: unknown environment "prod"/,
      );
      write();
    });
  },
);
