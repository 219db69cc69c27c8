import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as loader from '@grpc/proto-loader';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { selfSigned } from '../helpers/certs.js';
import { h2request, h2session } from './h2-client.js';
import { freePort, startInProcessProxy, tempDir, waitFor } from './helpers.js';

const EXAMPLE = resolve(import.meta.dirname, '..', '..', 'examples', 'grpc-hello');

/** examples/grpc-hello as a real process on a free port. */
async function startGreeter(
  version: string,
  mode?: string,
): Promise<{ address: string; stop: () => Promise<void> }> {
  const port = await freePort();
  const child: ChildProcess = spawn(process.execPath, ['server.js'], {
    cwd: EXAMPLE,
    env: { ...process.env, PORT: String(port), VERSION: version, ...(mode ? { MODE: mode } : {}) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout!.on('data', (c: Buffer) => {
    out += c;
  });
  await waitFor(() => out.includes('listening'), `grpc-hello ${version} listening`, 20_000);
  return {
    address: `127.0.0.1:${port}`,
    stop: () =>
      new Promise<void>((r) => {
        if (child.exitCode !== null) return r();
        child.once('exit', () => r());
        child.kill('SIGKILL');
      }),
  };
}

describe('traffic.upstream: h2c — gRPC through a TLS listener (in-process proxy, grpc-hello processes)', () => {
  let p: Awaited<ReturnType<typeof startInProcessProxy>>;
  let certs: { dir: string; remove: () => Promise<void> };
  let port: number;
  const greeters: Array<{ address: string; stop: () => Promise<void> }> = [];
  // biome-ignore lint/suspicious/noExplicitAny: the client class is generated at run time from hello.proto
  let client: any;
  // biome-ignore lint/suspicious/noExplicitAny: as above
  let hello: any;

  const sayHello = (name: string) =>
    new Promise<{ message: string; version: string }>((res, rej) =>
      client.sayHello({ name }, (err: grpc.ServiceError | null, r: { message: string; version: string }) =>
        err ? rej(err) : res(r),
      ),
    );

  beforeAll(async () => {
    p = await startInProcessProxy();
    certs = await tempDir();
    port = await freePort();
    const pair = selfSigned(certs.dir, 'g', ['grpc.test']);
    greeters.push(await startGreeter('g1'));
    await p.router.ensureRoute({
      service: 'greeter',
      listen: `127.0.0.1:${port}`,
      drainTimeoutMs: 5000,
      hosts: ['grpc.test'],
      tls: [pair],
      upstream: 'h2c',
    });
    await p.router.addBackends('greeter', [{ id: 'g1', address: greeters[0]!.address, revision: 1 }]);
    const def = loader.loadSync(join(EXAMPLE, 'hello.proto'), { defaults: true });
    ({ hello } = grpc.loadPackageDefinition(def) as never);
    client = new hello.Greeter(`127.0.0.1:${port}`, grpc.credentials.createSsl(readFileSync(pair.cert)), {
      'grpc.ssl_target_name_override': 'grpc.test',
      'grpc.default_authority': 'grpc.test',
    });
  }, 60_000);

  afterAll(async () => {
    client?.close();
    await p?.cleanup();
    await Promise.all(greeters.map((g) => g.stop()));
    await certs?.remove();
  });

  it('unary and server-streaming calls complete with status OK, every message in order', async () => {
    expect(await sayHello('a')).toEqual({ message: 'hello a from g1', version: 'g1' });
    const call = client.countUp({ count: 200, intervalMs: 0 });
    const seen: number[] = [];
    call.on('data', (m: { n: number }) => seen.push(m.n));
    const status = await new Promise<grpc.StatusObject>((r) => call.on('status', r));
    expect(status.code).toBe(grpc.status.OK);
    expect(seen).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
    // The proxy speaks HTTP/2 to the instance and keeps the route's counters for it.
    const rev = (await p.router.status('greeter'))!.revisions.find((r) => r.revision === 1)!;
    expect(rev.requests).toBeGreaterThanOrEqual(2);
    expect(rev.errors).toBe(0);
  });

  it('UNAVAILABLE from a bad instance reaches the client with its message and counts as an error', async () => {
    const bad = await startGreeter('g2', 'bad');
    greeters.push(bad);
    await p.router.switchTo('greeter', ['g2'], [{ id: 'g2', address: bad.address, revision: 2 }]);
    const err = await sayHello('b').then(
      () => undefined,
      (e: grpc.ServiceError) => e,
    );
    expect(err?.code).toBe(grpc.status.UNAVAILABLE);
    expect(err?.details).toMatch(/version g2 is bad/);
    const rev = (await p.router.status('greeter'))!.revisions.find((r) => r.revision === 2)!;
    expect([rev.requests, rev.errors]).toEqual([1, 1]);
    await p.router.switchTo('greeter', ['g1']);
    expect((await sayHello('c')).version).toBe('g1');
  });

  it('a plain HTTP/2 request is passed on as answered (grpc-js: 415); an unreachable instance is a 503', async () => {
    const s = await h2session(port, 'grpc.test');
    try {
      // Not a gRPC request: grpc-js answers with a trailers-only error, passed on as given.
      const r = await h2request(s, { ':path': '/hello.Greeter/SayHello', ':authority': 'grpc.test' });
      expect(r.status).toBe(415);
      await p.router.switchTo(
        'greeter',
        ['gone'],
        [{ id: 'gone', address: `127.0.0.1:${await freePort()}`, revision: 3 }],
      );
      const down = await h2request(s, { ':path': '/', ':authority': 'grpc.test' });
      expect([down.status, down.headers['x-baton-error']]).toEqual([503, 'upstream-unavailable']);
      await p.router.switchTo('greeter', ['g1']);
    } finally {
      s.close();
    }
  });
});
