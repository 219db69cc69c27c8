import { writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest, type RequestOptions } from 'node:https';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  baton,
  type Daemon,
  freePort,
  HELLO,
  startDaemon,
  type Workspace,
  workspace,
} from '../helpers/baton.js';
import { selfSigned } from '../helpers/certs.js';
import { type LoadReport, startLoad } from '../helpers/load.js';
import { waitFor } from '../helpers/wait.js';

/** The three services on one TLS listener: two by host, one by path under the first host. */
const SERVICES = [
  { name: 'web-a', host: 'a.test', path: '/' },
  { name: 'web-b', host: 'b.test', path: '/' },
  { name: 'web-api', host: 'a.test', path: '/api/' },
] as const;

function serviceYaml(s: (typeof SERVICES)[number], version: string, port: number, tls: string): string {
  const prefix = s.name === 'web-api' ? '\n      pathPrefix: /api' : '';
  const base = s.name === 'web-api' ? '\n      BASE_PATH: /api' : '';
  return `  ${s.name}:
    command: ${process.execPath}
    args: [server.js]
    cwd: ${HELLO}
    env:
      VERSION: "${version}"${base}
    replicas: 1
    probe:
      http: { path: ${s.name === 'web-api' ? '/api/health' : '/health'} }
      interval: 200ms
      timeout: 1s
      startTimeout: 10s
    traffic:
      listen: 127.0.0.1:${port}
      drainTimeout: 10s
      hosts: [${s.host}]${prefix}
      tls: ${tls}
    strategy: { type: rolling, maxSurge: 1, maxUnavailable: 0 }
    stopTimeout: 5s
`;
}

/** A request over a new TLS connection: status, body, certificate fingerprint. */
function tlsGet(
  port: number,
  host: string,
  path = '/',
): Promise<{ status: number; body: string; fp: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      {
        host: '127.0.0.1',
        port,
        path,
        servername: host,
        headers: { host },
        agent: false,
        rejectUnauthorized: false,
      } as RequestOptions,
      (res) => {
        const fp = (res.socket as TLSSocket).getPeerCertificate().fingerprint256;
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          body += c;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: body.trim(), fp }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

function plainGet(
  port: number,
  host: string,
  path: string,
): Promise<{ status: number; location?: string | undefined }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, headers: { host }, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, location: res.headers.location }));
    });
    req.on('error', reject);
    req.end();
  });
}

interface Seen {
  sentAt: number;
  doneAt: number;
  body: string;
}

describe('front door: three services on one TLS listener, by host and path', () => {
  let ws: Workspace;
  let daemon: Daemon;
  let port: number;
  let httpPort: number;
  const certs: Record<string, { cert: string; key: string }> = {};
  const versions: Record<string, number> = {};
  const spec = (): string => {
    const tls = (s: (typeof SERVICES)[number]) =>
      `{ cert: ${certs[s.host]!.cert}, key: ${certs[s.host]!.key} }`;
    return `services:\n${SERVICES.map((s) => serviceYaml(s, `${s.name}-v${versions[s.name]}`, port, tls(s))).join('')}`;
  };
  const deploy = (service?: string) => {
    writeFileSync(ws.specFile, spec());
    return baton(['deploy', '-f', ws.specFile, ...(service ? [service] : [])], { dataDir: ws.dataDir });
  };

  beforeAll(async () => {
    ws = workspace();
    port = await freePort();
    httpPort = await freePort();
    for (const h of ['a.test', 'b.test']) certs[h] = selfSigned(ws.dir, h, [h]);
    for (const s of SERVICES) versions[s.name] = 1;
    daemon = await startDaemon(ws.dataDir, {}, ['--http-listen', `127.0.0.1:${httpPort}`]);
    const r = await deploy();
    expect(r.code, r.stderr).toBe(0);
  }, 120_000);

  afterAll(async () => {
    await daemon?.kill();
    await ws?.cleanup();
  });

  it('each host and path reaches its own service; unknown host 404; plain HTTP for a TLS host gets 308', async () => {
    expect((await tlsGet(port, 'a.test')).body).toBe('hello from web-a-v1');
    expect((await tlsGet(port, 'b.test')).body).toBe('hello from web-b-v1');
    expect((await tlsGet(port, 'a.test', '/api/')).body).toBe('hello from web-api-v1');
    // The prefix is a.test's only: b.test/api/ reaches web-b (whose app has no such page).
    expect((await tlsGet(port, 'b.test', '/api/')).body).toBe('not found');
    const unknown = await tlsGet(port, 'c.test');
    expect([unknown.status, unknown.body]).toEqual([404, 'Not Found']);
    expect(await plainGet(httpPort, 'a.test', '/x')).toEqual({
      status: 308,
      location: `https://a.test:${port}/x`,
    });
  });

  it('20 deploys over the three under TLS load: 0 failed, no request of another service changes revision', async () => {
    const seen: Record<string, Seen[]> = {};
    const loads: Array<{ stop: () => Promise<LoadReport>; report: LoadReport }> = [];
    for (const s of SERVICES) {
      seen[s.name] = [];
      const onResponse = (r: { sentAt: number; doneAt: number; body: string }) =>
        seen[s.name]!.push({ sentAt: r.sentAt, doneAt: r.doneAt, body: r.body.trim() });
      const base = `https://127.0.0.1:${port}`;
      // 3 × 95/s: the issue asks for at least 200 req/s over TLS, asserted below on the rate achieved. The
      // generator shares the machine with the suite: at 3 × 80 it once achieved 184 of the 252 asked (its
      // own TLS handshakes starved), so it asks for more than the bound.
      loads.push(startLoad(base, { rps: 95, host: s.host, path: s.path, onResponse }));
      // 2 s requests straddling the switches.
      const slow = s.name === 'web-api' ? '/api/slow?ms=2000' : '/slow?ms=2000';
      loads.push(startLoad(base, { rps: 4, host: s.host, path: slow, pool: 16 }));
    }
    await waitFor(() => loads.every((l) => l.report.ok > 20), { timeoutMs: 20_000, message: 'load flowing' });
    // When each service's deploys ran (performance.now of this process, as the load's timestamps).
    const windows: Record<string, Array<[number, number]>> = { 'web-a': [], 'web-b': [], 'web-api': [] };
    for (let i = 0; i < 20; i++) {
      const s = SERVICES[i % 3]!;
      versions[s.name]!++;
      const from = performance.now();
      const r = await deploy(s.name);
      windows[s.name]!.push([from, performance.now()]);
      expect(r.code, r.stderr).toBe(0);
    }
    const reports = await Promise.all(loads.map((l) => l.stop()));
    const failed = reports.reduce((n, r) => n + r.failed, 0);
    expect(reports.flatMap((r) => r.errors)).toEqual([]);
    expect(failed).toBe(0);
    const sent = reports.reduce((n, r) => n + r.sent, 0);
    const seconds = Math.max(...reports.map((r) => r.elapsedMs)) / 1000;
    console.log(
      `front door load: ${sent} requests over TLS in ${seconds.toFixed(1)} s (${(sent / seconds).toFixed(0)} req/s), 0 failed`,
    );
    // The load it claims: at least 200 req/s in all, about half on keep-alive and half on new connections.
    expect(sent / seconds).toBeGreaterThanOrEqual(200);
    const keepAlive = reports.reduce((n, r) => n + r.kinds.keepAlive.sent, 0);
    expect(keepAlive / sent).toBeGreaterThan(0.35);
    expect(keepAlive / sent).toBeLessThan(0.65);
    // A request that overlapped no deploy of its own service saw one revision, the same as its neighbours.
    for (const s of SERVICES) {
      const quiet = seen[s.name]!.filter(
        (r) => !windows[s.name]!.some(([a, b]) => r.doneAt >= a && r.sentAt <= b),
      );
      const bad = quiet.filter(
        (r, i) => i > 0 && r.body !== quiet[i - 1]!.body && r.sentAt < quiet[i - 1]!.doneAt,
      );
      expect(bad).toEqual([]);
      for (const r of seen[s.name]!) expect(r.body.startsWith(`hello from ${s.name}-v`)).toBe(true);
    }
  }, 600_000);

  it('certificate files replaced under load: new connections get the new one, 0 failed', async () => {
    const load = startLoad(`https://127.0.0.1:${port}`, { rps: 100, host: 'a.test' });
    await waitFor(() => load.report.ok > 50, { message: 'load flowing' });
    const before = (await tlsGet(port, 'a.test')).fp;
    const replacedAt = performance.now();
    selfSigned(ws.dir, 'a.test', ['a.test', 'www.a.test'], { atomic: true });
    await waitFor(async () => (await tlsGet(port, 'a.test')).fp !== before, {
      timeoutMs: 10_000,
      intervalMs: 50,
      message: 'the new certificate',
    });
    const tookMs = performance.now() - replacedAt;
    console.log(`certificate replaced: new connections saw it after ${tookMs.toFixed(0)} ms`);
    await waitFor(() => load.report.ok > load.report.sent / 2 + 50, { message: 'load after the swap' });
    const r = await load.stop();
    expect(r.errors).toEqual([]);
    expect(r.failed).toBe(0);
  }, 60_000);

  it('the control plane SIGKILLed while TLS traffic flows: 0 failed, and it comes back', async () => {
    const load = startLoad(`https://127.0.0.1:${port}`, { rps: 100, host: 'b.test' });
    await waitFor(() => load.report.ok > 50, { message: 'load flowing' });
    await daemon.kill('SIGKILL');
    const at = load.report.ok;
    await waitFor(() => load.report.ok > at + 200, {
      timeoutMs: 20_000,
      message: 'load without a control plane',
    });
    daemon = await startDaemon(ws.dataDir, {}, ['--http-listen', `127.0.0.1:${httpPort}`]);
    const again = load.report.ok;
    await waitFor(() => load.report.ok > again + 100, { timeoutMs: 20_000, message: 'load after restart' });
    const r = await load.stop();
    expect(r.errors).toEqual([]);
    expect(r.failed).toBe(0);
    expect((await tlsGet(port, 'a.test', '/api/')).body).toMatch(/^hello from web-api-v\d+$/);
  }, 90_000);

  it('invalid inputs: exit 2 with file:line and the field path, nothing deployed', async () => {
    const bad = join(ws.dir, 'bad.yaml');
    const good = spec();
    const a = certs['a.test']!;
    const cases: Array<[string, string, RegExp]> = [
      [
        'unreadable cert',
        good.replace(a.cert, join(ws.dir, 'missing.pem')),
        /traffic\.tls\.cert: cannot read .*missing\.pem: no such file/,
      ],
      [
        'key not matching',
        good.replace(a.key, certs['b.test']!.key),
        /traffic\.tls\.key: the key in .* does not match/,
      ],
      [
        'host with scheme',
        good.replace('hosts: [b.test]', 'hosts: ["https://b.test"]'),
        /traffic\.hosts\.0: expected a host name without scheme/,
      ],
      [
        'host with port',
        good.replace('hosts: [b.test]', 'hosts: ["b.test:443"]'),
        /traffic\.hosts\.0: expected a host name without port/,
      ],
      [
        'wildcard not first',
        good.replace('hosts: [b.test]', 'hosts: ["a.*.test"]'),
        /traffic\.hosts\.0: expected a wildcard only as the whole first label/,
      ],
      [
        'duplicate host + prefix',
        good.replace('hosts: [b.test]', 'hosts: [a.test]'),
        /services\.web-b\.traffic\.hosts\.0: host a\.test with path prefix \/ on .* is already served by service web-a/,
      ],
      [
        'pathPrefix without /',
        good.replace('pathPrefix: /api', 'pathPrefix: api'),
        /traffic\.pathPrefix: expected a path starting with \//,
      ],
      [
        'tls auto for a wildcard',
        good
          .replace('hosts: [b.test]', 'hosts: ["*.b.test"]')
          .replace(/tls: \{ cert: [^\n]*b\.test\.key \}/, 'tls: auto'),
        /traffic\.hosts\.0: tls: auto cannot cover the wildcard/,
      ],
      [
        'TLS and plain on one listener',
        good.replace(/\n\s*tls: \{ cert: [^\n]*b\.test\.key \}/, ''),
        /services\.web-b\.traffic\.tls: listener .* is TLS for service web-a/,
      ],
    ];
    for (const [what, text, want] of cases) {
      writeFileSync(bad, text);
      const r = await baton(['deploy', '-f', bad], { dataDir: ws.dataDir });
      expect(r.code, `${what}: ${r.stderr}`).toBe(2);
      expect(r.stderr, what).toMatch(want);
      expect(r.stderr, what).toMatch(/bad\.yaml:\d+:\d+: /);
    }
    // Another baton.yaml claiming a host already served: the control plane refuses before anything starts.
    const other = join(ws.dir, 'other.yaml');
    writeFileSync(
      other,
      `services:\n${serviceYaml({ name: 'web-other', host: 'a.test', path: '/' } as never, 'o1', port, `{ cert: ${a.cert}, key: ${a.key} }`)}`,
    );
    const o = await baton(['deploy', '-f', other], { dataDir: ws.dataDir });
    expect(o.code, o.stderr).toBe(2);
    expect(o.stderr).toMatch(
      /services\.web-other\.traffic\.hosts\.0: host a\.test with path prefix \/ on .* is already served by service web-a/,
    );
    const st = await baton(['status', '--json'], { dataDir: ws.dataDir });
    const names = (JSON.parse(st.stdout) as { services: Array<{ service: string }> }).services.map(
      (x) => x.service,
    );
    expect(names.sort()).toEqual(['web-a', 'web-api', 'web-b']);
    const h = JSON.parse((await baton(['history', 'web-b', '--json'], { dataDir: ws.dataDir })).stdout) as {
      revisions: unknown[];
    };
    expect(h.revisions.length).toBe(versions['web-b']);
  }, 120_000);
});
