import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient } from '../../src/cli/client.js';
import { resolveTarget } from '../../src/cli/environment.js';

/**
 * An environment's control plane over https with its own CA: a real TLS server (node:https) with a
 * certificate for 127.0.0.1 signed by a CA made here with openssl. The client trusts it only through `ca`.
 */
describe('environment → { url, token, caFile } → an https client that trusts that CA', () => {
  let dir: string;
  let server: Server;
  let url: string;
  const seen: string[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'baton-env-tls-'));
    const sh = (args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
    sh([
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      'ca.key',
      '-out',
      'ca.pem',
      '-days',
      '1',
      '-subj',
      '/CN=baton test CA',
    ]);
    sh([
      'req',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      'srv.key',
      '-out',
      'srv.csr',
      '-subj',
      '/CN=127.0.0.1',
    ]);
    writeFileSync(join(dir, 'ext.cnf'), 'subjectAltName=IP:127.0.0.1\n');
    sh([
      'x509',
      '-req',
      '-in',
      'srv.csr',
      '-CA',
      'ca.pem',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-out',
      'srv.pem',
      '-days',
      '1',
      '-extfile',
      'ext.cnf',
    ]);
    server = createServer(
      { key: readFileSync(join(dir, 'srv.key')), cert: readFileSync(join(dir, 'srv.pem')) },
      (req, res) => {
        seen.push(req.headers.authorization ?? '');
        const ok = req.headers.authorization === 'Bearer staging-token';
        res.writeHead(ok ? 200 : 401, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify(ok ? { services: [] } : { error: { code: 'UNAUTHORIZED', message: 'bad token' } }),
        );
      },
    );
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `https://127.0.0.1:${(server.address() as { port: number }).port}`;
    writeFileSync(join(dir, 'staging.token'), 'staging-token\n');
    writeFileSync(
      join(dir, 'baton.yaml'),
      `services:
  web: { command: node, traffic: { listen: "127.0.0.1:8080" } }
environments:
  staging: { api: "${url}", token: { file: ./staging.token }, ca: ./ca.pem }
  wrong: { api: "${url}", token: { env: WRONG_TOKEN }, ca: ./ca.pem }
`,
    );
  });

  afterAll(async () => {
    await new Promise((r) => server?.close(r));
    rmSync(dir, { recursive: true, force: true });
  });

  it('reads the token file and the CA relative to baton.yaml and reaches the server with them', async () => {
    const t = await resolveTarget(join(dir, 'baton.yaml'), 'staging');
    expect(t).toMatchObject({ kind: 'api', url, token: 'staging-token', caFile: join(dir, 'ca.pem') });
    if (t.kind !== 'api') throw new Error('expected a control plane');
    expect(await ApiClient.forTarget(t).json('GET', '/v1/status')).toEqual({ services: [] });
    expect(seen.at(-1)).toBe('Bearer staging-token');
  });

  it('without the CA the certificate is refused (exit 3); a wrong token is refused with exit 3 and says so', async () => {
    const t = await resolveTarget(join(dir, 'baton.yaml'), 'staging');
    if (t.kind !== 'api') throw new Error('expected a control plane');
    await expect(
      ApiClient.forTarget({ ...t, caFile: undefined }).json('GET', '/v1/status'),
    ).rejects.toMatchObject({
      exitCode: 3,
    });
    process.env.WRONG_TOKEN = 'nope';
    try {
      const w = await resolveTarget(join(dir, 'baton.yaml'), 'wrong');
      if (w.kind !== 'api') throw new Error('expected a control plane');
      await expect(ApiClient.forTarget(w).json('GET', '/v1/status')).rejects.toMatchObject({
        exitCode: 3,
        message: expect.stringMatching(/refused the token \(HTTP 401\)/),
      });
    } finally {
      delete process.env.WRONG_TOKEN;
    }
  });
});
