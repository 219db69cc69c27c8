import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstream } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { connect } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Registry } from '../../src/cluster/registry.js';
import { AccessError, UnavailableError } from '../../src/core/errors.js';
import { connectNats, natsAuthFromEnv } from '../../src/store/nats/connect.js';
import { NatsStore } from '../../src/store/nats/nats-store.js';
import { Repo } from '../../src/store/repo.js';
import { baton } from '../helpers/baton.js';
import { requireNats, type SecureNats, startSecureNats } from '../helpers/nats.js';
import { makePki } from '../helpers/tls.js';

/**
 * Cluster mode against a nats-server with TLS and accounts: Baton's user (limited to Baton's subjects and
 * buckets) reads and writes its store; wrong credentials and an untrusted certificate are refused at
 * once with the server named; another account cannot see Baton's buckets.
 */
describe.skipIf(!requireNats())('NATS with TLS, accounts and credentials', () => {
  let dir: string;
  let nats: SecureNats;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'baton-nats-auth-'));
    nats = await startSecureNats(makePki(dir));
  });
  afterAll(async () => {
    await nats?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("Baton's user works with its store and registry over TLS", async () => {
    const nc = await connectNats({ servers: nats.server.url, auth: natsAuthFromEnv({}, nats.env) });
    try {
      const store = await NatsStore.open(nc);
      await store.create('services.web', { name: 'web' });
      expect((await store.get('services.web'))?.value).toEqual({ name: 'web' });
      await store.append('audit', { action: 'x' });
      expect(await store.read('audit')).toHaveLength(1);
      await new Repo(store).specHash({} as never);
      await Registry.open(nc, { ttlMs: 60_000, replicas: 1 });
    } finally {
      await nc.close();
    }
  });

  it('is limited to Baton subjects: a publish elsewhere is a permission violation', async () => {
    const nc = await connectNats({ servers: nats.server.url, auth: natsAuthFromEnv({}, nats.env) });
    try {
      await expect(nc.request('payroll.export', '', { timeout: 2000 })).rejects.toThrow(
        /permission|violation/i,
      );
    } finally {
      await nc.close().catch(() => undefined);
    }
  });

  it("another account does not see Baton's buckets", async () => {
    const nc = await connect({
      servers: nats.server.url,
      user: 'other',
      pass: 'other',
      tls: { caFile: nats.ca },
    });
    try {
      await expect(new Kvm(jetstream(nc)).open('baton').then((kv) => kv.status())).rejects.toThrow();
    } finally {
      await nc.close();
    }
  });

  it('wrong credentials, or no CA, are refused with the server named (no hang)', async () => {
    const wrong = { ...nats.env, BATON_NATS_PASSWORD: 'wrong' };
    const denied = await connectNats({ servers: nats.server.url, auth: natsAuthFromEnv({}, wrong) }).catch(
      (e: unknown) => e,
    );
    expect(denied).toBeInstanceOf(AccessError);
    expect((denied as Error).message).toContain(`NATS at ${nats.server.url} refused the credentials`);
    const { BATON_NATS_TLS_CA: _ca, ...noCa } = nats.env;
    const untrusted = await connectNats({ servers: nats.server.url, auth: natsAuthFromEnv({}, noCa) }).catch(
      (e: unknown) => e,
    );
    expect(untrusted).toBeInstanceOf(UnavailableError);
    expect((untrusted as Error).message).toMatch(new RegExp(`NATS at ${nats.server.url}.*--nats-tls-ca`));
  });

  it('the CLI takes the credentials from the env and --nats-tls-ca; wrong ones exit 3 naming the server', async () => {
    const data = join(dir, 'cli');
    const { BATON_NATS_TLS_CA: ca, ...creds } = nats.env;
    const ok = await baton(['status', '--cluster', '--nats', nats.server.url, '--nats-tls-ca', ca!], {
      dataDir: data,
      env: creds,
    });
    expect(ok.code, ok.stderr).toBe(0);
    const bad = await baton(['status', '--cluster', '--nats', nats.server.url], {
      dataDir: data,
      env: { ...nats.env, BATON_NATS_PASSWORD: 'wrong' },
    });
    expect(bad.code).toBe(3);
    expect(bad.stderr).toContain(`NATS at ${nats.server.url} refused the credentials`);
  });
});
