import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dryDriversFor } from '../../src/api/dry-drivers.js';
import { createApiServer } from '../../src/api/server.js';
import { VirtualClock } from '../../src/cloud/clock.js';
import { ServiceControl } from '../../src/engine/control.js';
import { Deployer } from '../../src/engine/deployer.js';
import type { EngineDeps } from '../../src/engine/deps.js';
import { createMultiRouter } from '../../src/router/create.js';
import type { MultiRouter } from '../../src/router/multi.js';
import type { Router } from '../../src/router/router.js';
import { createMultiRuntime } from '../../src/runtime/create.js';
import { loadSpecText } from '../../src/spec/load.js';
import { MemoryStore } from '../../src/store/fake/memory-store.js';
import { Repo } from '../../src/store/repo.js';
import { LISTENER_ARN, TG_BLUE, TG_GREEN } from '../fakes/aws/elb.js';
import { FakeAws } from '../fakes/aws/fake-aws.js';
import { APP_PORT, CLUSTER } from '../fakes/aws/setup.js';
import { baton } from '../helpers/baton.js';

/**
 * Invariant 5 with an ECS spec: the control plane's API and engine in this process over the
 * aws-sdk-client-mock fake (no AWS endpoint to point a daemon at), the real CLI against that API. Values
 * from `!env` in `env` and in the container's own `environment` reach RegisterTaskDefinition and appear in
 * no plan, deploy output, history, status, audit or log line.
 */
describe('secrets of a runtime ecs service are used, never shown', () => {
  const DB_TOKEN = `db-${randomBytes(12).toString('hex')}`;
  const API_KEY = `key-${randomBytes(12).toString('hex')}`;
  const TOKEN = randomBytes(16).toString('hex');
  let dir: string;
  let fake: FakeAws;
  let deps: EngineDeps;
  let server: Server;
  let url: string;
  const logLines: string[] = [];
  const specFile = () => join(dir, 'baton.yaml');
  const cli = (args: string[]) =>
    baton(['--api', url, '--token', TOKEN, ...args], {
      dataDir: join(dir, 'cli'),
      env: { DB_TOKEN, API_KEY },
    });
  const clean = (text: string) => {
    expect(text).not.toContain(DB_TOKEN);
    expect(text).not.toContain(API_KEY);
  };

  const spec = (version: string) => `services:
  web:
    runtime: ecs
    port: ${APP_PORT}
    env: { VERSION: ${version}, DB_TOKEN: !env DB_TOKEN }
    secrets: { DB_PASSWORD: "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-password-AbCdEf" }
    stopTimeout: 5s
    ecs:
      cluster: ${CLUSTER}
      launchType: FARGATE
      container:
        image: 123456789012.dkr.ecr.us-east-1.amazonaws.com/hello:1.0.0
        environment: [{ name: API_KEY, value: !env API_KEY }, { name: MODE, value: plain }]
      taskDefinition: { cpu: "256", memory: "512", requiresCompatibilities: [FARGATE] }
      network: { subnets: [subnet-0a1b2c3d], securityGroups: [sg-0a1b2c3d] }
    probe: { http: { path: /health } }
    traffic:
      listen: "192.0.2.20:80"
      router:
        kind: alb
        listenerArn: ${LISTENER_ARN}
        targetGroups: ["${TG_BLUE}", "${TG_GREEN}"]
        pollInterval: 1s
        healthTimeout: 60s
    strategy: { type: replace }
`;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'baton-secrets-ecs-'));
    fake = new FakeAws();
    const clients = fake.clients(new VirtualClock());
    const logger = pino({ level: 'debug' }, { write: (line: string) => void logLines.push(line) });
    const made = new Map<string, Router>();
    const drivers = { dataDir: dir, logger, awsClients: () => clients };
    deps = {
      repo: new Repo(new MemoryStore()),
      runtime: createMultiRuntime({ ...drivers, ecsClusters: [CLUSTER] }),
      router: createMultiRouter({ ...drivers, made }),
      logger,
      holder: 'test',
      dryRun: dryDriversFor({ ...drivers, ecsClusters: [CLUSTER], liveRouters: made }),
    };
    const deployer = new Deployer(deps);
    const control = new ServiceControl(deps, deployer);
    server = createApiServer({ deps, deployer, control, version: 'test' }, TOKEN);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await new Promise((r) => server?.close(r));
    await deps?.runtime.close();
    await deps?.router.close();
    await fake?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('plan, deploy, history, status, audit: the task definition carries the values, no output or log line does', async () => {
    writeFileSync(specFile(), spec('v1'));
    // The daemon binds a service to its router when deployed; before that it asks its embedded proxy,
    // which this test does not run.
    const loaded = await loadSpecText(spec('v1'), 'baton.yaml', { env: { DB_TOKEN, API_KEY } });
    (deps.router as MultiRouter).bind('web', loaded.spec.services.web!.traffic.router);
    for (const args of [
      ['plan', '-f', specFile()],
      ['plan', '-f', specFile(), '--json'],
    ]) {
      const r = await cli(args);
      expect(r.code, r.stderr).toBe(0);
      clean(r.stdout + r.stderr);
      const flat = args.includes('--json') ? JSON.stringify(JSON.parse(r.stdout)) : r.stdout;
      expect(flat).toMatch(/RegisterTaskDefinition/);
      expect(flat).toContain('{"name":"API_KEY","value":"[secret]"}');
      expect(flat).toContain('{"name":"DB_TOKEN","value":"[secret]"}');
    }
    expect(fake.rec.writes()).toEqual([]);

    const d = await cli(['deploy', '-f', specFile()]);
    expect(d.code, `${d.stdout}\n${d.stderr}`).toBe(0);
    clean(d.stdout + d.stderr);
    const registered = fake.calls.filter((c) => c.op === 'RegisterTaskDefinition' && !c.fault);
    expect(registered).toHaveLength(1);
    const [container] = registered[0]!.input.containerDefinitions as Array<{
      environment: Array<{ name: string; value: string }>;
    }>;
    expect(container!.environment).toEqual(
      expect.arrayContaining([
        { name: 'DB_TOKEN', value: DB_TOKEN },
        { name: 'API_KEY', value: API_KEY },
        { name: 'MODE', value: 'plain' },
        { name: 'VERSION', value: 'v1' },
      ]),
    );

    const h = await cli(['history', 'web', '--json']);
    expect(h.code, h.stderr).toBe(0);
    clean(h.stdout);
    const [rev] = (JSON.parse(h.stdout) as { revisions: Array<{ spec: object; secretPaths: string[] }> })
      .revisions;
    expect(rev!.secretPaths).toEqual(['ecs.container.environment.0.value', 'env.DB_TOKEN']);
    expect(rev!.spec).toMatchObject({
      env: { DB_TOKEN: '[secret]' },
      ecs: { container: { environment: [{ name: 'API_KEY', value: '[secret]' }, { name: 'MODE' }] } },
    });
    for (const args of [
      ['history', 'web'],
      ['status', '--json'],
      ['audit', '--json'],
    ]) {
      const r = await cli(args);
      expect(r.code, r.stderr).toBe(0);
      clean(r.stdout + r.stderr);
    }
    writeFileSync(specFile(), spec('v2'));
    const p = await cli(['plan', '-f', specFile(), '--json']);
    expect(p.code, p.stderr).toBe(0);
    clean(p.stdout);
    expect(logLines.join('')).toMatch(/deploy progress/);
    clean(logLines.join(''));
  });
});
