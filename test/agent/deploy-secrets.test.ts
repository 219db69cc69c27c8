import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NatsConnection } from '@nats-io/transport-node';
import { afterEach, describe, expect, it } from 'vitest';
import { deployToCluster } from '../../src/agent/deploy.js';
import { redactRevision } from '../../src/api/redact.js';
import { selectServices } from '../../src/cli/spec-input.js';
import { MemoryStore } from '../../src/store/fake/memory-store.js';
import { Repo } from '../../src/store/repo.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('baton deploy --cluster records where the secrets are', () => {
  it('a secret below the top level of env (here in an exec probe) is hidden in the recorded revision', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'baton-cluster-secrets-'));
    dirs.push(dir);
    const file = join(dir, 'baton.yaml');
    process.env.BATON_TEST_CLUSTER_SECRET = 's3cr3t-probe-token';
    process.env.BATON_TEST_CLUSTER_ENV = 's3cr3t-env-value';
    try {
      writeFileSync(
        file,
        `services:
  web:
    command: /bin/true
    env: {TOKEN: !env BATON_TEST_CLUSTER_ENV}
    probe: {exec: {command: !env BATON_TEST_CLUSTER_SECRET}}
    traffic: {listen: "127.0.0.1:8080"}
`,
      );
      const [web] = await selectServices({ file }, 'web');
      const store = new MemoryStore();
      // No governor is named, so the NATS connection is not used.
      const r = await deployToCluster(undefined as unknown as NatsConnection, store, {
        service: 'web',
        spec: web!.spec,
        secretEnv: web!.secretEnv,
        secretPaths: web!.secretPaths,
        actor: 'test',
        replicas: 1,
      });
      const rev = (await new Repo(store).getRevision('web', r.revision))!;
      // Stored in clear (agents start instances from it), shown hidden.
      expect(JSON.stringify(rev.spec)).toContain('s3cr3t-probe-token');
      const shown = JSON.stringify(redactRevision(rev));
      expect(shown).not.toContain('s3cr3t-probe-token');
      expect(shown).not.toContain('s3cr3t-env-value');
      expect(rev.secretPaths).toEqual(expect.arrayContaining(['env.TOKEN', 'probe.exec.command']));
    } finally {
      delete process.env.BATON_TEST_CLUSTER_SECRET;
      delete process.env.BATON_TEST_CLUSTER_ENV;
    }
  });
});
