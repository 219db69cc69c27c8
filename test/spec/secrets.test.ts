import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { redactRevision } from '../../src/api/redact.js';
import { selectServices } from '../../src/cli/spec-input.js';
import { DriverError } from '../../src/core/errors.js';
import { silentLogger } from '../../src/core/logger.js';
import { HIDDEN, hidePaths, hideValues, secretPathsOf, secretsOf } from '../../src/core/secrets.js';
import type { Revision } from '../../src/core/types.js';
import { Deployer } from '../../src/engine/deployer.js';
import type { DeployEvent } from '../../src/engine/events.js';
import { FakeRouter } from '../../src/router/fake/fake-router.js';
import { FakeRuntime } from '../../src/runtime/fake/fake-runtime.js';
import { serviceSchema } from '../../src/spec/schema.js';
import { MemoryStore } from '../../src/store/fake/memory-store.js';
import { specHash } from '../../src/store/hash.js';
import { Repo } from '../../src/store/repo.js';

const OCI_YAML = `services:
  web:
    runtime: oci
    port: 8080
    env: { DB: !env DB, PLAIN: x }
    containerInstance:
      compartmentId: ocid1.compartment.oc1..c
      availabilityDomain: AD-1
      shape: CI.Standard.E4.Flex
      shapeConfig: { ocpus: 1 }
      vnics: [{ subnetId: ocid1.subnet.oc1..s }]
      containers:
        - imageUrl: x/y:1
          environmentVariables: { TOKEN: !env TOKEN, "A.B": !env TOKEN }
    probe: { http: { path: / } }
    traffic:
      listen: "192.0.2.10:80"
      router: { kind: oci-lb, loadBalancerId: ocid1.loadbalancer.oc1..l, backends: [{ port: 8080, backendSet: http }] }
`;

describe('secret marks of a spec', () => {
  it('selectServices: paths relative to each service, nested ones included; env names kept for older readers', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'baton-secrets-'));
    try {
      writeFileSync(join(dir, 'baton.yaml'), OCI_YAML);
      const prev = { DB: process.env.DB, TOKEN: process.env.TOKEN };
      process.env.DB = 'db-secret-value';
      process.env.TOKEN = 'token-secret-value';
      try {
        const [web] = await selectServices({ file: join(dir, 'baton.yaml') }, undefined);
        expect(web!.secretPaths).toEqual([
          'containerInstance.containers.0.environmentVariables.A.B',
          'containerInstance.containers.0.environmentVariables.TOKEN',
          'env.DB',
        ]);
        expect(web!.secretEnv).toEqual(['DB']);
        // A key with a dot is still found: paths are matched as the spec is walked.
        const shown = hidePaths(web!.spec, web!.secretPaths);
        expect(shown.env).toEqual({ DB: HIDDEN, PLAIN: 'x' });
        expect(JSON.stringify(shown)).not.toContain('secret-value');
        expect(secretsOf({ spec: web!.spec, secretPaths: web!.secretPaths }).sort()).toEqual([
          'db-secret-value',
          'token-secret-value',
        ]);
      } finally {
        for (const [k, v] of Object.entries(prev)) {
          if (v === undefined) delete process.env[k];
          else process.env[k] = v;
        }
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('hideValues: equal strings, embedded and JSON-escaped occurrences; short secrets only when equal', () => {
    const secrets = ['s3cr3t-line\nnext', 'ab'];
    expect(
      hideValues(
        {
          a: 's3cr3t-line\nnext',
          b: 'Bearer s3cr3t-line\nnext!',
          c: 'body {"v":"s3cr3t-line\\nnext"}',
          d: 'ab',
          e: 'abc',
          n: 3,
          list: ['ab', 'x'],
        },
        secrets,
      ),
    ).toEqual({
      a: HIDDEN,
      b: `Bearer ${HIDDEN}!`,
      c: `body {"v":"${HIDDEN}"}`,
      d: HIDDEN,
      e: 'abc',
      n: 3,
      list: [HIDDEN, 'x'],
    });
    expect(hideValues({ a: 'x' }, [])).toEqual({ a: 'x' });
  });

  it('an old revision with only secretEnv is still hidden; a docker registry password always is', () => {
    const spec = serviceSchema.parse({
      runtime: 'process',
      command: 'run',
      env: { DB: 'hunter2-old' },
      traffic: { listen: '127.0.0.1:1' },
    });
    const old: Revision = {
      service: 'web',
      number: 1,
      hash: specHash(spec),
      spec,
      createdAt: 'now',
      status: 'failed',
      reason: 'connect failed with password hunter2-old',
      secretEnv: ['DB'],
    };
    expect(secretPathsOf(old)).toEqual(['env.DB']);
    const shown = redactRevision(old);
    expect(shown.spec.env).toEqual({ DB: HIDDEN });
    expect(shown.reason).toBe(`connect failed with password ${HIDDEN}`);
    expect(shown.hash).toBe(old.hash);
  });

  it('the spec hash is the spec’s alone: marks do not change it, a new secret value does', async () => {
    const repo = new Repo(new MemoryStore());
    const spec = (v: string) =>
      serviceSchema.parse({
        runtime: 'process',
        command: 'run',
        env: { DB: v },
        traffic: { listen: '127.0.0.1:1' },
      });
    const a = (await repo.recordRevision('web', spec('one'), { secretPaths: ['env.DB'] })).revision;
    const b = (await repo.recordRevision('web', spec('one'))).revision;
    const c = (await repo.recordRevision('web', spec('two'), { secretPaths: ['env.DB'] })).revision;
    expect(a.hash).toBe(await repo.specHash(spec('one')));
    expect(b.hash).toBe(a.hash);
    expect(c.hash).not.toBe(a.hash);
    // Stored in clear: instances are started from the stored revision later (restart, rollback).
    expect((await repo.getRevision('web', 1))?.spec.env.DB).toBe('one');
    expect((await repo.getRevision('web', 1))?.secretPaths).toEqual(['env.DB']);
  });

  it('a failed deploy whose driver error quotes a secret: events, history and audit show [secret]', async () => {
    const runtime = new FakeRuntime({ serveHttp: true });
    const router = new FakeRouter();
    const repo = new Repo(new MemoryStore());
    const deployer = new Deployer({ repo, runtime, router, logger: silentLogger(), holder: 't' });
    const spec = serviceSchema.parse({
      runtime: 'process',
      command: 'unused',
      env: { API_KEY: 'key-0123456789' },
      probe: { http: { path: '/health' }, interval: '20ms', startTimeout: '1s' },
      traffic: { listen: '127.0.0.1:1', drainTimeout: '1s' },
    });
    runtime.failNext('start', new DriverError('fake', 'rejected request {"API_KEY":"key-0123456789"}'));
    const events: DeployEvent[] = [];
    const r = await deployer.deploy({ service: 'web', spec, actor: 't', secretPaths: ['env.API_KEY'] }, (e) =>
      events.push(e),
    );
    expect(r.ok).toBe(false);
    const rev = await repo.getRevision('web', 1);
    const stored = JSON.stringify({
      events,
      deployments: await repo.listDeployments('web', {}),
      audit: await repo.listAudit(),
      reason: rev?.reason,
    });
    expect(stored).toContain(`{\\"API_KEY\\":\\"${HIDDEN}\\"}`);
    expect(stored).not.toContain('key-0123456789');
    // A plan whose driver fails quoting the value: the error the API answers with does not.
    router.failNext('status', new DriverError('fake', 'cannot read route for key-0123456789'));
    const failed = await deployer
      .preview('web', spec, { secretPaths: ['env.API_KEY'] })
      .catch((e: Error) => e);
    expect(failed).toMatchObject({ code: 'DRIVER', message: `fake: cannot read route for ${HIDDEN}` });
    await runtime.close();
    await router.close();
  });
});
