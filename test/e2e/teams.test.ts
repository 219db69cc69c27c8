import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient } from '../../src/cli/client.js';
import {
  baton,
  type CliResult,
  type Daemon,
  freePort,
  helloYaml,
  type StatusJson,
  startDaemon,
  type Workspace,
  workspace,
} from '../helpers/baton.js';
import { makePki } from '../helpers/tls.js';
import { waitFor } from '../helpers/wait.js';

/**
 * Two teams on one control plane, through the built CLI: a `team-a-*` deployer deploys, promotes and
 * rolls back team-a-web and is refused everything on team-b-web (exit 3, naming its token and scope); a
 * viewer reads but acts on nothing; revoked and expired tokens are refused on their next call; the audit
 * names the token of each action. Then the API beyond loopback: refused without TLS, HTTPS with --ca.
 */
describe('scoped tokens: two teams on one daemon', { timeout: 240_000 }, () => {
  let ws: Workspace;
  let daemon: Daemon;
  const secrets: Record<string, string> = {};
  const ports: Record<string, number> = {};

  const yaml = (aVersion: string, aStrategy: string) => {
    const a = helloYaml({
      service: 'team-a-web',
      version: aVersion,
      listen: ports.a!,
      replicas: 1,
      strategy: aStrategy,
      preview: ports.preview!,
    });
    const b = helloYaml({ service: 'team-b-web', version: 'v1', listen: ports.b!, replicas: 1 });
    return `${a}${b.replace(/^services:\n/, '')}`;
  };
  const as = (token: string | undefined, args: string[]): Promise<CliResult> =>
    baton(args, { dataDir: ws.dataDir, env: token ? { BATON_TOKEN: secrets[token] } : {} });

  beforeAll(async () => {
    ws = workspace();
    ports.a = await freePort();
    ports.b = await freePort();
    ports.preview = await freePort();
    daemon = await startDaemon(ws.dataDir);
    writeFileSync(ws.specFile, yaml('v1', '{ type: replace }'));
    const first = await as(undefined, ['deploy', '-f', ws.specFile]);
    expect(first.code, first.stderr).toBe(0);
    const make = async (name: string, args: string[]) => {
      const r = await as(undefined, ['token', 'create', name, ...args]);
      expect(r.code, r.stderr).toBe(0);
      secrets[name] = r.stdout.split('\n')[1]!;
    };
    await Promise.all([
      make('team-a-deployer', ['--role', 'deployer', '--services', 'team-a-*']),
      make('viewer', ['--role', 'viewer']),
    ]);
  }, 180_000);

  afterAll(async () => {
    await daemon?.kill();
    await ws?.cleanup();
  });

  it('token list shows names, roles and scopes, never a secret', async () => {
    const r = await as(undefined, ['token', 'list']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/team-a-deployer\s+deployer\s+team-a-\*/);
    expect(r.stdout).toMatch(/viewer\s+viewer\s+\*/);
    for (const s of Object.values(secrets)) expect(r.stdout).not.toContain(s);
    // Only an every-service admin manages tokens.
    const refused = await as('team-a-deployer', ['token', 'list']);
    expect(refused.code).toBe(3);
    expect(refused.stderr).toMatch(/token team-a-deployer .*may not GET \/v1\/tokens: that needs role admin/);
  });

  it('the team-a deployer deploys, promotes and rolls back team-a-web', async () => {
    writeFileSync(ws.specFile, yaml('v2', '{ type: blue-green, scaleDownDelay: 0s }'));
    const deploying = as('team-a-deployer', ['deploy', 'team-a-web', '-f', ws.specFile]);
    // Polled through the API with the same token (a CLI process per poll is slow on a loaded machine).
    const api = ApiClient.connect({ url: daemon.url, token: secrets['team-a-deployer'] });
    await waitFor(
      async () =>
        (await api.json<StatusJson['services'][number]>('GET', '/v1/services/team-a-web')).waiting ===
        'promotion',
      { timeoutMs: 120_000, message: 'the blue-green deploy to wait for promotion' },
    );
    const promoted = await as('team-a-deployer', ['promote', 'team-a-web']);
    expect(promoted.code, promoted.stderr).toBe(0);
    const deployed = await deploying;
    expect(deployed.code, deployed.stderr).toBe(0);
    const back = await as('team-a-deployer', ['rollback', 'team-a-web']);
    expect(back.code, back.stderr).toBe(0);
    const status = JSON.parse((await as('team-a-deployer', ['status', '--json'])).stdout) as StatusJson;
    // Listings hold only the token's services.
    expect(status.services.map((s) => s.service)).toEqual(['team-a-web']);
    // A rollback serves the earlier revision again (no new number).
    expect(status.services[0]!.current).toBe(1);
  });

  it('every action and read on team-b-web is refused, naming the token and its scope', async () => {
    const attempts = [
      ['deploy', 'team-b-web', '-f', ws.specFile],
      ['promote', 'team-b-web'],
      ['rollback', 'team-b-web'],
      ['stop', 'team-b-web'],
      ['logs', 'team-b-web'],
      ['status', 'team-b-web'],
      ['history', 'team-b-web'],
      ['audit', 'team-b-web'],
    ];
    const results = await Promise.all(attempts.map((args) => as('team-a-deployer', args)));
    for (const [i, args] of attempts.entries()) {
      const r = results[i]!;
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(3);
      expect(r.stderr).toMatch(
        /token team-a-deployer \(role deployer\) may not .*team-b-web.* outside its scope \(services team-a-\*\)/,
      );
    }
    const b = JSON.parse((await as('viewer', ['status', 'team-b-web', '--json'])).stdout) as StatusJson;
    expect(b.services[0]!.current).toBe(1);
  });

  it('a viewer reads everything and may do nothing', async () => {
    for (const args of [
      ['history', 'team-b-web'],
      ['logs', 'team-a-web'],
    ]) {
      const r = await as('viewer', args);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
    }
    const status = JSON.parse((await as('viewer', ['status', '--json'])).stdout) as StatusJson;
    expect(status.services.map((s) => s.service).sort()).toEqual(['team-a-web', 'team-b-web']);
    for (const args of [
      ['deploy', 'team-a-web', '-f', ws.specFile],
      ['rollback', 'team-a-web'],
      ['promote', 'team-a-web'],
      ['stop', 'team-b-web'],
      ['maintenance', 'team-a-web', 'on'],
      ['destroy', 'team-a-web', '--yes'],
    ]) {
      const r = await as('viewer', args);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(3);
      expect(r.stderr).toMatch(
        /token viewer \(role viewer, services \*\) may not .*: that needs role (deployer|admin)/,
      );
    }
  });

  it('a revoked or expired token is refused on its next call', async () => {
    const short = await as(undefined, ['token', 'create', 'short', '--role', 'viewer', '--expires', '1ms']);
    expect(short.code, short.stderr).toBe(0);
    secrets.short = short.stdout.split('\n')[1]!;
    const expired = await as('short', ['status']);
    expect(expired.code).toBe(3);
    expect(expired.stderr).toMatch(/token short has expired/);
    expect((await as('viewer', ['status'])).code).toBe(0);
    const revoked = await as(undefined, ['token', 'revoke', 'viewer']);
    expect(revoked.code, revoked.stderr).toBe(0);
    const after = await as('viewer', ['status']);
    expect(after.code).toBe(3);
    expect(after.stderr).toMatch(/wrong bearer token/);
    // Each failure is logged with the caller's address (and never the secret).
    expect(daemon.output()).toMatch(/API authentication failed/);
    expect(daemon.output()).not.toContain(secrets.viewer);
  });

  it("the audit shows each action with the token's name", async () => {
    const r = await as(undefined, ['audit', 'team-a-web', '--json']);
    const events = (JSON.parse(r.stdout) as { events: Array<{ action: string; actor: string }> }).events;
    for (const action of ['deploy', 'promote', 'rollback'])
      expect(
        events.some((e) => e.action === action && /\[token team-a-deployer\]$/.test(e.actor)),
        `${action} in ${JSON.stringify(events)}`,
      ).toBe(true);
    expect(events.some((e) => /\[token local-admin\]$/.test(e.actor))).toBe(true);
    const all = await as(undefined, ['audit', '--json']);
    expect(all.stdout).toMatch(/token:create/);
  });
});

describe('the API beyond loopback', { timeout: 240_000 }, () => {
  let ws: Workspace;
  afterAll(async () => {
    await ws?.cleanup();
  });

  it('is refused without TLS (exit 2, nothing created); with TLS the CLI works with --ca and fails clearly without', async () => {
    ws = workspace();
    const plain = await baton(['serve', '--listen', '0.0.0.0:0'], { dataDir: ws.dataDir });
    expect(plain.code).toBe(2);
    expect(plain.stderr).toMatch(
      /--listen 0.0.0.0:0 is beyond this machine.*--tls-cert FILE and --tls-key FILE/,
    );
    expect(existsSync(ws.dataDir)).toBe(false);

    const pki = makePki(ws.dir);
    const daemon = await startDaemon(ws.dataDir, { BATON_CA: pki.ca }, [
      '--listen',
      '0.0.0.0:0',
      '--tls-cert',
      pki.cert,
      '--tls-key',
      pki.key,
    ]);
    try {
      expect(daemon.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      const port = new URL(daemon.url).port;
      const api = `https://127.0.0.1:${port}`;
      // Another machine's CLI: no data dir of the daemon's, the token given, the CA given.
      const other = join(ws.dir, 'elsewhere');
      const token = readFileSync(join(ws.dataDir, 'token'), 'utf8').trim();
      const ok = await baton(['--api', api, '--ca', pki.ca, '--token', token, 'status'], { dataDir: other });
      expect(ok.code, ok.stderr).toBe(0);
      const noCa = await baton(['--api', api, '--token', token, 'status'], { dataDir: other });
      expect(noCa.code).toBe(3);
      expect(noCa.stderr).toMatch(
        /the control plane at https:\/\/127\.0\.0\.1:\d+ presented a certificate this client does not trust .*--ca FILE/,
      );
      const plainHttp = await baton(['--api', `127.0.0.1:${port}`, '--token', token, 'status'], {
        dataDir: other,
      });
      expect(plainHttp.code).toBe(3);
    } finally {
      await daemon.kill();
    }
  });
});
