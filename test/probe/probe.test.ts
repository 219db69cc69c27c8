import http from 'node:http';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runProbe } from '../../src/probe/probe.js';
import { type ProbeSpec, probeSchema } from '../../src/spec/schema.js';

const probe = (p: Record<string, unknown>): ProbeSpec => probeSchema.parse(p);

let server: http.Server;
let port: number;
let refusedPort: number;

beforeAll(async () => {
  server = http.createServer((req, res) => {
    if (req.url === '/health') return void res.end('ok');
    if (req.url === '/bad') {
      res.statusCode = 500;
      return void res.end('bad');
    }
    if (req.url === '/hang') return; // never answers
    if (req.url === '/host') return void res.end(req.headers.host);
    res.statusCode = 404;
    res.end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as net.AddressInfo).port;
  // A port nobody listens on: bind, read, close.
  const tmp = net.createServer();
  await new Promise<void>((r) => tmp.listen(0, '127.0.0.1', r));
  refusedPort = (tmp.address() as net.AddressInfo).port;
  await new Promise((r) => tmp.close(r));
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

describe('http probe', () => {
  it('passes on the expected status', async () => {
    const r = await runProbe(probe({ http: { path: '/health' } }), { host: '127.0.0.1', port });
    expect(r).toMatchObject({ ok: true, detail: 'HTTP 200 from GET /health' });
    expect(r.ms).toBeGreaterThanOrEqual(0);
  });

  it('fails on another status and says what it expected', async () => {
    const r = await runProbe(probe({ http: { path: '/bad' } }), { host: '127.0.0.1', port });
    expect(r).toMatchObject({ ok: false, detail: 'HTTP 500 from GET /bad (expected 200)' });
  });

  it('accepts a configured status', async () => {
    const r = await runProbe(probe({ http: { path: '/bad', status: 500 } }), { host: '127.0.0.1', port });
    expect(r.ok).toBe(true);
  });

  it('reports connection refused', async () => {
    const r = await runProbe(probe({ http: { path: '/health' } }), { host: '127.0.0.1', port: refusedPort });
    expect(r).toMatchObject({ ok: false, detail: 'connection refused' });
  });

  it('times out at its own timeout (whole seconds formatted as such)', async () => {
    // Two probes of a backend that never answers, started together: the one with the shorter timeout
    // ends first (an ordering, not a wall-clock bound), and neither ends before its timeout.
    const ended: string[] = [];
    const at = { host: '127.0.0.1', port };
    const [short, long] = await Promise.all(
      (['200ms', '1s'] as const).map(async (timeout) => {
        const r = await runProbe(probe({ http: { path: '/hang' }, timeout }), at);
        ended.push(timeout);
        return r;
      }),
    );
    expect(ended).toEqual(['200ms', '1s']);
    expect(short).toMatchObject({ ok: false, detail: 'timed out after 200ms' });
    expect(long).toMatchObject({ ok: false, detail: 'timed out after 1s' });
    expect(short!.ms).toBeGreaterThanOrEqual(190);
    expect(long!.ms).toBeGreaterThanOrEqual(990);
  });

  it('stops when the caller aborts', async () => {
    const ac = new AbortController();
    const pending = runProbe(
      probe({ http: { path: '/hang' }, timeout: '10s' }),
      { host: '127.0.0.1', port },
      ac.signal,
    );
    ac.abort();
    expect(await pending).toMatchObject({ ok: false, detail: 'aborted' });
  });
});

describe('tcp probe', () => {
  it('passes when a connection opens', async () => {
    const r = await runProbe(probe({ tcp: {} }), { host: '127.0.0.1', port });
    expect(r).toMatchObject({ ok: true, detail: `TCP connect to 127.0.0.1:${port}` });
  });

  it('reports connection refused', async () => {
    const r = await runProbe(probe({ tcp: {} }), { host: '127.0.0.1', port: refusedPort });
    expect(r).toMatchObject({ ok: false, detail: 'connection refused' });
  });
});

describe('exec probe', () => {
  const node = process.execPath;
  // Node takes over the default 1 s timeout to start on a loaded 2-core machine: these cases are about
  // exit codes and output, so the timeout is out of their way (the timeout has its own case).
  const roomy = '30s';

  it('passes on exit 0 and sees PORT, HOST and the instance env', async () => {
    const script =
      'process.exit(process.env.PORT === "4321" && process.env.HOST === "127.0.0.2" && process.env.X === "y" ? 0 : 3)';
    const r = await runProbe(probe({ exec: { command: node, args: ['-e', script] }, timeout: roomy }), {
      host: '127.0.0.2',
      port: 4321,
      env: { X: 'y' },
    });
    expect(r).toMatchObject({ ok: true, detail: 'exit 0' });
  });

  it('fails with the exit code and the last stderr line', async () => {
    const script = 'console.error("first"); console.error("database unreachable\\n"); process.exit(1)';
    const r = await runProbe(probe({ exec: { command: node, args: ['-e', script] }, timeout: roomy }), {
      host: 'h',
      port: 1,
    });
    expect(r).toMatchObject({ ok: false, detail: 'exit 1: database unreachable' });
  });

  it('runs a one-line command through the shell', async () => {
    const r = await runProbe(probe({ exec: { command: 'test "$PORT" = 77' } }), { host: 'h', port: 77 });
    expect(r).toMatchObject({ ok: true, detail: 'exit 0' });
  });

  it('reports a missing command', async () => {
    const r = await runProbe(probe({ exec: { command: 'no-such-command-baton' } }), { host: 'h', port: 1 });
    expect(r).toMatchObject({ ok: false, detail: 'command not found: no-such-command-baton' });
  });

  it('kills the command on timeout', async () => {
    const r = await runProbe(
      probe({ exec: { command: node, args: ['-e', 'setTimeout(() => {}, 60000)'] }, timeout: '300ms' }),
      {
        host: 'h',
        port: 1,
      },
    );
    expect(r).toMatchObject({ ok: false, detail: 'timed out after 300ms' });
  });
});
