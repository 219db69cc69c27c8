import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DriverError, UnavailableError } from '../../src/core/errors.js';
import { DockerRuntime } from '../../src/runtime/docker/docker-runtime.js';
import type { StartRequest } from '../../src/runtime/runtime.js';
import { fileSchema, serviceSchema } from '../../src/spec/schema.js';
import { buildHelloImage, HELLO_REPO, removeTestArtifacts } from '../fixtures/docker/build-hello-image.js';
import { httpGet } from '../helpers/http.js';
import { requireDocker } from '../helpers/services.js';
import { waitFor } from '../helpers/wait.js';
import { runRuntimeContract } from './runtime.contract.js';

const ok = requireDocker();
const TAG = `runtime-${process.pid}`;
const OWNER = `baton-test-runtime-${process.pid}`;
let stateDir = '';
const make = (extra: Partial<ConstructorParameters<typeof DockerRuntime>[0]> = {}) =>
  new DockerRuntime({ owner: OWNER, stateDir, ...extra });
const spec = (env: Record<string, string> = {}, over: Record<string, unknown> = {}) =>
  serviceSchema.parse({
    runtime: 'docker',
    image: HELLO_REPO,
    tag: TAG,
    port: 3000,
    pull: 'never',
    env,
    stopTimeout: '5s',
    traffic: { listen: '127.0.0.1:1' },
    ...over,
  });
const cleanup = async () => removeTestArtifacts({ containers: `baton.owner=${OWNER}` });
const docker = (...args: string[]) => spawnSync('docker', args, { encoding: 'utf8' });

describe.skipIf(!ok)('docker runtime', () => {
  beforeAll(() => {
    stateDir = mkdtempSync(join(tmpdir(), 'baton-docker-state-'));
    buildHelloImage(TAG);
  }, 120_000);
  afterAll(async () => {
    await cleanup();
    removeTestArtifacts({ containers: `baton-test.unlabelled=${OWNER}`, images: [`${HELLO_REPO}:${TAG}`] });
    rmSync(stateDir, { recursive: true, force: true });
  });

  runRuntimeContract('docker', async () => {
    const runtime = make();
    return {
      runtime,
      spec,
      restartKeepsAddress: false,
      crash: async (i) => void docker('kill', i.id),
      cleanup: async () => {
        await runtime.close();
        await cleanup();
      },
    };
  });

  describe('docker specifics', () => {
    afterEach(cleanup);
    let seq = 0;
    const request = (over: Partial<StartRequest> = {}): StartRequest => ({
      id: `dk-${process.pid}-${++seq}`,
      service: 'web',
      revision: 1,
      deployment: 'd1',
      spec: spec({ VERSION: 'v1' }),
      ...over,
    });

    it('labels the container, runs it with an init, no restart policy, published on 127.0.0.1 only', async () => {
      const req = request();
      const i = await make().start(req);
      const [info] = JSON.parse(docker('inspect', req.id).stdout) as Array<{
        Config: { Labels: Record<string, string>; Env: string[] };
        HostConfig: { Init: boolean; RestartPolicy: { Name: string } };
        NetworkSettings: { Ports: Record<string, Array<{ HostIp: string; HostPort: string }>> };
      }>;
      expect(info!.Config.Labels).toMatchObject({
        'baton.managed-by': 'baton',
        'baton.service': 'web',
        'baton.revision': '1',
        'baton.deployment': 'd1',
        'baton.instance': req.id,
        'baton.owner': OWNER,
      });
      expect(info!.Config.Env).toEqual(
        expect.arrayContaining([
          'PORT=3000',
          'BATON_SERVICE=web',
          'BATON_REVISION=1',
          `BATON_INSTANCE=${req.id}`,
        ]),
      );
      expect(info!.HostConfig.Init).toBe(true);
      expect(info!.HostConfig.RestartPolicy.Name).toBe('no');
      expect(info!.NetworkSettings.Ports['3000/tcp']).toEqual([
        { HostIp: '127.0.0.1', HostPort: String(i.port) },
      ]);
      expect(i.host).toBe('127.0.0.1');
      await waitFor(async () => (await httpGet(i.host, i.port, '/')).body.includes('hello from v1'));
    });

    it('adopts: a second runtime lists the same containers and can stop them', async () => {
      const a = make();
      const i = await a.start(request());
      await a.close();
      const b = make();
      expect((await b.list('web')).map((x) => [x.id, x.port, x.state])).toEqual([[i.id, i.port, 'running']]);
      await b.stop(i.id, 5000);
      expect((await make().get(i.id))?.state).toBe('stopped');
      // Another owner (another control plane) sees nothing of it.
      expect(await new DockerRuntime({ owner: `${OWNER}-other` }).get(i.id)).toBeUndefined();
    });

    it('purges labelled containers of no desired revision, never an unlabelled one', async () => {
      const rt = make({ purgeMinAgeMs: 0 });
      const old = await rt.start(request({ revision: 1 }));
      const cur = await rt.start(request({ revision: 2 }));
      const stray = `unlabelled-${process.pid}`;
      expect(
        docker('create', '--name', stray, '--label', `baton-test.unlabelled=${OWNER}`, `${HELLO_REPO}:${TAG}`)
          .status,
      ).toBe(0);
      const removed = await rt.purge((t) => t.service !== 'web' || t.revision === 2);
      expect(removed).toEqual([old.id]);
      expect((await rt.list()).map((x) => x.id)).toEqual([cur.id]);
      expect(docker('inspect', stray).status).toBe(0);
      // Young containers are spared (a deploy may have just created them).
      expect(await make().purge(() => false)).toEqual([]);
    });

    it('a missing image with pull: never is a clear DriverError naming it', async () => {
      const req = request({ spec: spec({}, { image: 'baton-test/absent', tag: 'nope' }) });
      const err = await make()
        .start(req)
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(DriverError);
      expect((err as Error).message).toBe(
        'docker: image baton-test/absent:nope not found locally and could not be pulled: pull: never',
      );
    });

    it('an unreachable daemon is an UnavailableError saying where and what to check', async () => {
      const saved = process.env.DOCKER_HOST;
      process.env.DOCKER_HOST = 'unix:///nonexistent.sock';
      try {
        const err = await new DockerRuntime().list().catch((e: unknown) => e);
        expect(err).toBeInstanceOf(UnavailableError);
        expect((err as Error).message).toMatch(
          /^docker daemon not reachable at unix:\/\/\/nonexistent\.sock \(ENOENT\): is dockerd running\?$/,
        );
      } finally {
        if (saved === undefined) delete process.env.DOCKER_HOST;
        else process.env.DOCKER_HOST = saved;
      }
    });
  });
});

// The schema needs no Docker.
describe('runtime: docker in baton.yaml', () => {
  const svc = (over: Record<string, unknown> = {}) => ({
    runtime: 'docker',
    image: 'ghcr.io/acme/web',
    port: 3000,
    traffic: { listen: '127.0.0.1:8080' },
    ...over,
  });

  it('fills the defaults and keeps the common fields', () => {
    const s = serviceSchema.parse(svc());
    expect(s).toMatchObject({
      runtime: 'docker',
      tag: 'latest',
      network: 'bridge',
      pull: 'missing',
      purge: true,
      healthcheck: 'image',
      volumes: [],
      env: {},
      replicas: 1,
      stopTimeout: 10_000,
      strategy: { type: 'rolling' },
    });
  });

  it('accepts every docker field', () => {
    const s = serviceSchema.parse(
      svc({
        tag: '1.4.2',
        command: 'serve --fast',
        entrypoint: ['/init'],
        volumes: ['./data:/data:ro', 'cache:/cache'],
        network: 'host',
        logDriver: { type: 'syslog', options: { 'syslog-address': 'udp://127.0.0.1:514' } },
        registryAuth: { username: 'u', password: 'p', serveraddress: 'ghcr.io' },
        pull: 'never',
        purge: false,
        healthcheck: 'ignore',
      }),
    );
    expect(s.runtime === 'docker' && s.logDriver?.options).toEqual({
      'syslog-address': 'udp://127.0.0.1:514',
    });
  });

  it.each([
    [{ port: undefined }, 'port'],
    [{ image: undefined }, 'image'],
    [{ image: 'web:1.0' }, 'image'],
    [{ port: 3000.5 }, 'port'],
    [{ pull: 'sometimes' }, 'pull'],
    [{ volumes: ['data'] }, 'volumes'],
    // A process-only key: an unknown key of the docker service (its issue names the key, at the root path).
    [{ args: ['x'] }, 'args'],
  ])('rejects %j', (over, field) => {
    const r = serviceSchema.safeParse(svc(over));
    expect(r.success).toBe(false);
    // The fields the issues name: their paths, and the keys an "unrecognized keys" issue lists.
    const named = r.error!.issues.flatMap((i) => [i.path.join('.'), ...('keys' in i ? i.keys : [])]);
    expect(
      named.some((n) => n === field || n.startsWith(`${field}.`)),
      named.join(', '),
    ).toBe(true);
  });

  it('the duplicate-port check spans process and docker services', () => {
    const r = fileSchema.safeParse({
      services: {
        a: { command: 'node', traffic: { listen: '127.0.0.1:8080' } },
        b: svc(),
      },
    });
    expect(r.success).toBe(false);
    // Since the front door a shared listener is allowed when hosts tell the services apart: it says so.
    expect(r.error!.issues[0]!.message).toMatch(/^port 8080 is already used by service a: .*traffic\.hosts/);
  });
});
