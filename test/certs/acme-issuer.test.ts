import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, createServer } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AcmeIssuer, CertIssueError } from '../../src/certs/acme-issuer.js';
import { accountKeyPath, certPath, keyPath } from '../../src/certs/cert-files.js';
import { CertManager } from '../../src/certs/cert-manager.js';
import { type ChallengeServer, startChallengeServer } from '../helpers/challenge-server.js';
import { type Pebble, requirePebble, startPebble } from '../helpers/pebble.js';

/** Serves `cert`/`key` with node:tls and returns what a client trusting only `root` saw for `servername`. */
async function handshake(certPem: string, keyPem: string, root: string, servername: string) {
  const server = createServer({ cert: certPem, key: keyPem }, (s) => s.end());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    return await new Promise<{ authorized: boolean; error: string | null; serial: string }>(
      (resolve, reject) => {
        const sock = connect(
          { host: '127.0.0.1', port: (server.address() as AddressInfo).port, servername, ca: root },
          () => {
            resolve({
              authorized: sock.authorized,
              error: sock.authorizationError ? String(sock.authorizationError) : null,
              serial: sock.getPeerCertificate().serialNumber,
            });
            sock.end();
          },
        );
        sock.on('error', reject);
      },
    );
  } finally {
    server.close();
  }
}

describe.skipIf(!requirePebble())('ACME issuer against Pebble (real exchange)', () => {
  let dir: string;
  let responder: ChallengeServer;
  let pebble: Pebble;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'baton-acme-'));
    responder = await startChallengeServer();
    pebble = await startPebble(dir, responder.port);
  }, 60_000);

  afterAll(async () => {
    await pebble?.stop();
    await responder?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const issuer = (dataDir: string) =>
    new AcmeIssuer({
      settings: { directory: pebble.directory, caFile: pebble.caFile, email: 'ops@baton.test' },
      dataDir,
      responder,
      pollMinMs: 100,
      pollMaxMs: 500,
    });

  it('issues a certificate over HTTP-01 that a TLS client verifies against Pebble’s root', async () => {
    const dataDir = join(dir, 'data1');
    const info = await issuer(dataDir).issue('App.Baton.Test');
    expect(info.names).toEqual(['app.baton.test']);
    expect(info.issuer).toMatch(/Pebble/);
    expect(Date.parse(info.notAfter)).toBeGreaterThan(Date.now());
    expect(responder.fetched.length).toBeGreaterThan(0);
    for (const f of [
      certPath(dataDir, 'app.baton.test'),
      keyPath(dataDir, 'app.baton.test'),
      accountKeyPath(dataDir),
    ])
      expect(statSync(f).mode & 0o777, f).toBe(0o600);
    const root = await pebble.root();
    const seen = await handshake(
      readFileSync(certPath(dataDir, 'app.baton.test'), 'utf8'),
      readFileSync(keyPath(dataDir, 'app.baton.test'), 'utf8'),
      root,
      'app.baton.test',
    );
    expect(seen).toEqual({ authorized: true, error: null, serial: info.serial });
    // Another name is not covered: the real client must refuse it.
    await expect(
      handshake(
        readFileSync(certPath(dataDir, 'app.baton.test'), 'utf8'),
        readFileSync(keyPath(dataDir, 'app.baton.test'), 'utf8'),
        root,
        'other.baton.test',
      ),
    ).rejects.toThrow(/altnames/);
  }, 60_000);

  it('keeps one account key: a second order reuses it and gets a new serial', async () => {
    const dataDir = join(dir, 'data2');
    const a = issuer(dataDir);
    const first = await a.issue('reuse.baton.test');
    const key = readFileSync(accountKeyPath(dataDir), 'utf8');
    const second = await issuer(dataDir).issue('reuse.baton.test');
    expect(readFileSync(accountKeyPath(dataDir), 'utf8')).toBe(key);
    expect(second.serial).not.toBe(first.serial);
  }, 60_000);

  it('fails with the CA’s message when validation fails (no answer served)', async () => {
    const silent = { set: async () => {}, remove: async () => {} };
    const bad = new AcmeIssuer({
      settings: { directory: pebble.directory, caFile: pebble.caFile },
      dataDir: join(dir, 'data3'),
      responder: silent,
      pollMinMs: 100,
      pollMaxMs: 500,
    });
    const err = await bad.issue('nothing.baton.test').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CertIssueError);
    expect((err as CertIssueError).exitCode).toBe(1);
    expect((err as Error).message).toMatch(/nothing\.baton\.test/);
    expect((err as Error).message).toMatch(/404|unauthorized|invalid/i);
  }, 60_000);

  it('refuses a directory whose HTTPS certificate is not trusted (no --acme-ca-file)', async () => {
    const untrusted = new AcmeIssuer({
      settings: { directory: pebble.directory },
      dataDir: join(dir, 'data4'),
      responder,
    });
    await expect(untrusted.issue('x.baton.test')).rejects.toThrow(/certificate/i);
  }, 60_000);

  it('a CA that is down fails the order with the connection error, not the library’s', async () => {
    const down = new AcmeIssuer({
      settings: { directory: 'https://127.0.0.1:1/dir' },
      dataDir: join(dir, 'data7'),
      responder,
    });
    await expect(down.issue('down.baton.test')).rejects.toThrow(
      /certificate for down\.baton\.test: connect ECONNREFUSED/,
    );
  });

  it('a CA that asks to wait (429 Retry-After) fails the order at once and reports the delay', async () => {
    const ca = createHttpServer((_req, res) => {
      res.writeHead(429, { 'retry-after': '120', 'content-type': 'application/problem+json' });
      res.end(
        JSON.stringify({ type: 'urn:ietf:params:acme:error:rateLimited', detail: 'too many certificates' }),
      );
    });
    await new Promise<void>((resolve) => ca.listen(0, '127.0.0.1', resolve));
    try {
      const limited = new AcmeIssuer({
        settings: { directory: `http://127.0.0.1:${(ca.address() as AddressInfo).port}/dir` },
        dataDir: join(dir, 'data5'),
        responder,
      });
      const err = (await limited.issue('limited.baton.test').catch((e: unknown) => e)) as CertIssueError;
      expect(err).toBeInstanceOf(CertIssueError);
      expect(err.retryAfterSec).toBe(120);
    } finally {
      ca.close();
    }
  });

  it('single-flight: concurrent ensure() of one name makes one order', async () => {
    const dataDir = join(dir, 'data6');
    let orders = 0;
    const real = issuer(dataDir);
    const mgr = new CertManager({
      dataDir,
      issuer: {
        issue: (h) => {
          orders++;
          return real.issue(h);
        },
      },
    });
    const got = await Promise.all([
      mgr.ensure('one.baton.test'),
      mgr.ensure('one.baton.test'),
      mgr.renew('one.baton.test'),
    ]);
    expect(orders).toBe(1);
    expect(new Set(got.map((g) => g.serial)).size).toBe(1);
    // A restarted daemon finds it on disk and does not order again.
    const again = new CertManager({
      dataDir,
      issuer: { issue: () => Promise.reject(new Error('must not order')) },
    });
    expect((await again.ensure('one.baton.test')).serial).toBe(got[0]!.serial);
    expect(again.list().map((c) => [c.host, c.state, c.names])).toEqual([
      ['one.baton.test', 'valid', ['one.baton.test']],
    ]);
  }, 60_000);
});
