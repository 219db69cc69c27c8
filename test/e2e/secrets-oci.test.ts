import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dataPaths } from '../../src/api/paths.js';
import { fakeOciWithLb, ociDaemonEnv } from '../fakes/oci/daemon.js';
import type { FakeOci } from '../fakes/oci/fake-oci.js';
import type { FakeLoadBalancer } from '../fakes/oci/load-balancer.js';
import { COMPARTMENT, SUBNET } from '../fakes/oci/setup.js';
import { baton, type Daemon, startDaemon, type Workspace, workspace } from '../helpers/baton.js';

/**
 * Invariant 5 with a cloud spec, through the real CLI and `baton serve`: values from `!env` in the
 * service's `env` and nested in an OCI container's `environmentVariables` reach the container instance
 * (the fake records the request) and appear in no plan, history, status, audit, journal, deploy output
 * or daemon log line.
 */
describe('secrets of a runtime oci service are used, never shown', () => {
  const DB_PASSWORD = `db-${randomBytes(12).toString('hex')}`;
  const API_TOKEN = `tok-${randomBytes(12).toString('hex')}`;
  let fake: FakeOci;
  let lb: FakeLoadBalancer;
  let ws: Workspace;
  let daemon: Daemon;
  const cli = (args: string[]) => baton(args, { dataDir: ws.dataDir, env: { DB_PASSWORD, API_TOKEN } });
  const clean = (text: string) => {
    expect(text).not.toContain(DB_PASSWORD);
    expect(text).not.toContain(API_TOKEN);
  };
  const api = async (path: string) => {
    const token = readFileSync(dataPaths(ws.dataDir).token, 'utf8').trim();
    const { url } = JSON.parse(readFileSync(dataPaths(ws.dataDir).api, 'utf8')) as { url: string };
    const res = await fetch(`${url}${path}`, { headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(200);
    return res.text();
  };

  const spec = (version: string) => `services:
  web:
    runtime: oci
    port: 8080
    env: { VERSION: ${version}, DB_PASSWORD: !env DB_PASSWORD }
    containerInstance:
      compartmentId: ${COMPARTMENT}
      availabilityDomain: GARu:EU-FRANKFURT-1-AD-3
      shape: CI.Standard.A1.Flex
      shapeConfig: { ocpus: 1, memoryInGBs: 1 }
      vnics: [{ subnetId: ${SUBNET} }]
      containers:
        - displayName: app
          imageUrl: "ghcr.io/acme/hello:1"
          environmentVariables: { API_TOKEN: !env API_TOKEN, MODE: plain }
    probe: { http: { path: / } }
    stopTimeout: 5s
    traffic:
      listen: "192.0.2.10:80"
      router:
        kind: oci-lb
        loadBalancerId: ${lb.id}
        backends: [{ port: 8080, backendSet: http }]
        pollInterval: 200ms
        drainPeriod: 500ms
    strategy: { type: replace }
`;

  beforeAll(async () => {
    ({ fake, lb } = await fakeOciWithLb({ listLag: 0 }));
    ws = workspace();
    // Debug level: every line the daemon can log about a deploy is there to be searched.
    daemon = await startDaemon(ws.dataDir, { ...ociDaemonEnv(ws.dir, fake), BATON_LOG_LEVEL: 'debug' });
  });

  afterAll(async () => {
    await daemon?.kill();
    await ws?.cleanup();
    await fake?.close();
  });

  it('baton plan (text and --json): the create body shows [secret] where the values go', async () => {
    writeFileSync(ws.specFile, spec('v1'));
    const text = await cli(['plan', '-f', ws.specFile]);
    expect(text.code, text.stderr).toBe(0);
    clean(text.stdout + text.stderr);
    expect(text.stdout).toMatch(/CreateContainerInstance: POST .*"DB_PASSWORD":"\[secret\]"/);
    expect(text.stdout).toMatch(/CreateContainerInstance: POST .*"API_TOKEN":"\[secret\]"/);
    const json = await cli(['plan', '-f', ws.specFile, '--json']);
    expect(json.code, json.stderr).toBe(0);
    clean(json.stdout);
    expect(json.stdout).toContain('"MODE": "plain"');
    expect(fake.writes()).toEqual([]);
  });

  it('deploy: the container instance receives both values; no output, history, status, audit, journal or log line shows them', async () => {
    const d = await cli(['deploy', '-f', ws.specFile]);
    expect(d.code, `${d.stdout}\n${d.stderr}\n${daemon.output()}`).toBe(0);
    clean(d.stdout + d.stderr);
    const dj = await cli(['deploy', '-f', ws.specFile, '--json']);
    expect(dj.code, dj.stderr).toBe(0);
    clean(dj.stdout + dj.stderr);

    const [inst] = fake.ci.live();
    expect(inst!.containers[0]!.environmentVariables).toMatchObject({
      DB_PASSWORD,
      API_TOKEN,
      MODE: 'plain',
      VERSION: 'v1',
    });

    const h = await cli(['history', 'web', '--json']);
    expect(h.code, h.stderr).toBe(0);
    clean(h.stdout);
    const history = JSON.parse(h.stdout) as {
      revisions: Array<{ spec: Record<string, never>; secretPaths: string[] }>;
      deployments: Array<{ id: string }>;
    };
    const [rev] = history.revisions;
    expect(rev!.secretPaths).toEqual([
      'containerInstance.containers.0.environmentVariables.API_TOKEN',
      'env.DB_PASSWORD',
    ]);
    expect(rev!.spec).toMatchObject({
      env: { VERSION: 'v1', DB_PASSWORD: '[secret]' },
      containerInstance: { containers: [{ environmentVariables: { API_TOKEN: '[secret]', MODE: 'plain' } }] },
    });
    clean((await cli(['history', 'web'])).stdout);
    for (const args of [['status', '--json'], ['status'], ['audit', 'web', '--json']]) {
      const r = await cli(args);
      expect(r.code, r.stderr).toBe(0);
      clean(r.stdout + r.stderr);
    }
    for (const path of [
      '/v1/status',
      '/v1/services/web',
      '/v1/services/web/history',
      `/v1/deployments/${history.deployments[0]!.id}`,
      '/v1/audit',
    ])
      clean(await api(path));
    // A plan of v2 over the deployed v1: reads find v1, the create and delete bodies stay clean.
    writeFileSync(ws.specFile, spec('v2'));
    const p = await cli(['plan', '-f', ws.specFile, '--json']);
    expect(p.code, p.stderr).toBe(0);
    clean(p.stdout);
    expect(daemon.output()).toMatch(/deploy progress/);
    clean(daemon.output());
  });
});
