import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProxyRouter } from '../../src/router/proxy/client.js';
import { isAlive } from '../../src/runtime/process/proc.js';
import { freePort, startBackend, type TestBackend, tempDir, waitFor } from './helpers.js';
import { type RawBackend, rawBackend } from './raw.js';

const ENTRY = new URL('../../dist/router/proxy/main.js', import.meta.url).pathname;

/**
 * Loaded into the proxy and its worker (cluster passes execArgv on): SIGUSR2 makes the worker throw an
 * exception nothing catches, outside any request path.
 */
const INJECT = `import cluster from 'node:cluster';
if (cluster.isWorker) process.on('SIGUSR2', () => setImmediate(() => { throw new Error('injected by the test'); }));
`;

/**
 * Issue 11's worker crash: a response node refuses to write, or an exception that escapes anyway, must
 * not end the worker — every in-flight request of every service on it would be cut.
 */
describe.runIf(existsSync(ENTRY) || process.env.CI === 'true')('proxy worker resilience', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let proxy: ChildProcess;
  let router: ProxyRouter;
  let slow: TestBackend;
  let bad: RawBackend;
  let slowPort: number;
  let badPort: number;
  const client = new Agent({ connections: 20 });
  const log = (): string => readFileSync(join(dir.dir, 'out.log'), 'utf8');

  beforeAll(async () => {
    dir = await tempDir();
    const inject = join(dir.dir, 'inject.mjs');
    writeFileSync(inject, INJECT);
    const out = join(dir.dir, 'out.log');
    writeFileSync(out, '');
    const fd = openSync(out, 'a');
    proxy = spawn(process.execPath, ['--import', inject, ENTRY, '--data-dir', dir.dir, '--workers', '1'], {
      stdio: ['ignore', fd, fd],
    });
    router = new ProxyRouter({ dataDir: dir.dir });
    await waitFor(
      async () => (await router.health().catch(() => undefined))?.workers?.length === 1,
      'proxy',
      15_000,
    );
    slow = await startBackend('slow', (_req, res) => setTimeout(() => res.end('slow done'), 1500));
    bad = await rawBackend((r) => r.socket.end('HTTP/1.1 200 OK\x01\r\nContent-Length: 2\r\n\r\nhi'));
    slowPort = await freePort();
    badPort = await freePort();
    await router.ensureRoute({ service: 'slow', listen: `127.0.0.1:${slowPort}`, drainTimeoutMs: 500 });
    await router.ensureRoute({ service: 'bad', listen: `127.0.0.1:${badPort}`, drainTimeoutMs: 500 });
    await router.addBackends('slow', [{ id: 's', address: slow.address, revision: 1 }]);
    await router.addBackends('bad', [{ id: 'b', address: bad.address, revision: 1 }]);
  }, 30_000);
  afterAll(async () => {
    await client.close();
    await router?.close();
    proxy?.kill('SIGTERM');
    await waitFor(() => proxy.exitCode !== null || proxy.signalCode !== null, 'proxy exit', 15_000);
    await slow?.close();
    await bad?.close();
    await dir.remove();
  });

  const get = async (port: number) => {
    const res = await request(`http://127.0.0.1:${port}/`, { dispatcher: client });
    return { status: res.statusCode, text: await res.body.text() };
  };

  it('a bad response and an escaped exception: 502 for that request, every other one finishes', async () => {
    const [worker] = (await router.health()).workers!;
    // Six slow requests of another service are in flight on the worker...
    const inFlight = Array.from({ length: 6 }, () => get(slowPort));
    await waitFor(async () => (await router.status('slow'))?.backends[0]?.inFlight === 6, 'six in flight');
    // ...when a backend sends a reason phrase node refuses to write, and then an exception escapes.
    expect(await get(badPort)).toMatchObject({ status: 502 });
    process.kill(worker!, 'SIGUSR2');
    await waitFor(() => log().includes('injected by the test'), 'the exception in the log');
    expect(await get(badPort)).toMatchObject({ status: 502 });
    for (const r of await Promise.all(inFlight)) expect(r).toEqual({ status: 200, text: 'slow done' });
    // The same worker serves on; the log has the exception with its stack.
    expect(isAlive(worker!)).toBe(true);
    expect((await router.health()).workers).toEqual([worker]);
    expect(log()).toMatch(/uncaught exception in proxy worker \(still serving\)/);
    expect(log()).toMatch(/"stack":"Error: injected by the test\\n\s+at /);
  }, 30_000);
});
