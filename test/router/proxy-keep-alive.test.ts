import diagnostics from 'node:diagnostics_channel';
import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import { connect, type Socket } from 'node:net';
import { Worker } from 'node:worker_threads';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KEEP_ALIVE_TIMEOUT_MS } from '../../src/router/proxy/keep-alive.js';
import { freePort, startBackend, startInProcessProxy, type TestBackend } from './helpers.js';

const S = 'ka';

/**
 * A Node http.Agent client that ignores the announced timeout (no `timeout` of its own, Node's default):
 * one request, then it holds its thread still until the proxy's FIN for that socket is in the kernel
 * (the socket is in CLOSE_WAIT in /proc/net/tcp) and sends its next request before it has read the FIN —
 * exactly what a client does when it sends as the proxy closes.
 */
const RACING_CLIENT = `
const { parentPort, workerData } = require('node:worker_threads');
const http = require('node:http');
const fs = require('node:fs');
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
const get = () => new Promise((res) => {
  const req = http.get({ host: '127.0.0.1', port: workerData.port, agent }, (r) => {
    r.resume();
    r.on('end', () => res({ status: r.statusCode, reused: req.reusedSocket, keepAlive: r.headers['keep-alive'], local: req.socket.localPort }));
  });
  req.on('error', (e) => res({ error: e.code, message: e.message, reused: req.reusedSocket }));
});
(async () => {
  const first = await get();
  const port = ':' + first.local.toString(16).toUpperCase().padStart(4, '0');
  const closeWait = () => fs.readFileSync('/proc/net/tcp', 'utf8').split('\\n').some((l) => {
    const f = l.trim().split(/\\s+/);
    return f[1] !== undefined && f[1].endsWith(port) && f[3] === '08';
  });
  const deadline = Date.now() + 30000;
  while (!closeWait() && Date.now() < deadline) {}
  const second = await get();
  parentPort.postMessage({ first, second });
})();
`;
const GET = 'GET / HTTP/1.1\r\nHost: x\r\n\r\n';

/** A raw client connection that collects what it receives and how it ends. */
function rawClient(port: number): Promise<{
  sock: Socket;
  received: () => string;
  /** Resolves once `n` complete answers (each ending with body `a`) arrived. */
  answers: (n: number) => Promise<void>;
  ended: Promise<{ fin: boolean; error?: string }>;
}> {
  return new Promise((resolve, reject) => {
    // allowHalfOpen: after the proxy's FIN we can still send, as a client that has not read it yet does.
    const sock = connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    let data = '';
    let fin = false;
    const waiters: Array<{ n: number; done: () => void }> = [];
    const count = () => data.split('\r\n\r\na').length - 1;
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => {
      data += d;
      for (const w of waiters.filter((x) => count() >= x.n)) w.done();
    });
    const ended = new Promise<{ fin: boolean; error?: string }>((res) => {
      let error: string | undefined;
      sock.on('end', () => {
        fin = true;
      });
      sock.on('error', (e: NodeJS.ErrnoException) => {
        error = e.code ?? e.message;
      });
      sock.on('close', () => res({ fin, ...(error === undefined ? {} : { error }) }));
    });
    sock.once('connect', () =>
      resolve({
        sock,
        received: () => data,
        answers: (n) => new Promise<void>((done) => (count() >= n ? done() : waiters.push({ n, done }))),
        ended,
      }),
    );
    sock.once('error', reject);
  });
}

/**
 * The client side of the keep-alive close race, on the embedded proxy's listener: the proxy announces its
 * idle timeout, closes a connection only when it is really idle, and well-behaved clients retire their
 * sockets before it closes them. (The timeout is short here; the default is 120 s.)
 */
describe('proxy: client keep-alive', () => {
  let proxy: Awaited<ReturnType<typeof startInProcessProxy>>;
  let backend: TestBackend;
  let port: number;
  const route = (keepAliveTimeoutMs?: number) =>
    proxy.router.ensureRoute({
      service: S,
      listen: `127.0.0.1:${port}`,
      drainTimeoutMs: 1000,
      ...(keepAliveTimeoutMs === undefined ? {} : { keepAliveTimeoutMs }),
    });

  beforeAll(async () => {
    proxy = await startInProcessProxy();
    backend = await startBackend('a');
    port = await freePort();
    await route(2000);
    await proxy.router.addBackends(S, [{ id: 'a', address: backend.address, revision: 1 }]);
  });
  afterAll(async () => {
    await proxy.cleanup();
    await backend.close();
  });

  it('announces its timeout and closes an idle connection no sooner', async () => {
    const c = await rawClient(port);
    c.sock.write('GET / HTTP/1.1\r\nHost: x\r\nX-Baton-Debug: worker\r\n\r\n');
    await c.answers(1);
    const answeredAt = performance.now();
    expect(c.received()).toMatch(/\r\nKeep-Alive: timeout=2\r\n/i);
    // The upstream's own Keep-Alive (Node's timeout=5) is hop-by-hop: only the proxy's is announced.
    expect(c.received().match(/keep-alive: timeout/gi)).toHaveLength(1);
    // The soak's worker header is opt-in on the proxy's side (BATON_PROXY_DEBUG_HEADER=1): asking is not enough.
    expect(c.received()).not.toMatch(/x-baton-worker/i);
    await new Promise<void>((r) => c.sock.once('end', () => r()));
    expect(performance.now() - answeredAt).toBeGreaterThanOrEqual(2000);
    c.sock.destroy();
  });

  it('a request sent on the socket just as the proxy closes it: the client sees ECONNRESET, no answer', async () => {
    // The client runs in a worker thread so it can be held still while the proxy (this thread) closes.
    const worker = new Worker(RACING_CLIENT, { eval: true, workerData: { port } });
    const seen = await new Promise<{ first: Record<string, unknown>; second: Record<string, unknown> }>(
      (resolve, reject) => {
        worker.once('message', resolve);
        worker.once('error', reject);
      },
    );
    await worker.terminate();
    expect(seen.first).toMatchObject({ status: 200, reused: false, keepAlive: 'timeout=2' });
    // The request went out on the reused socket after the proxy's FIN: no answer, a reset.
    expect(seen.second).toMatchObject({ reused: true, error: 'ECONNRESET' });
  });

  it('keeps a connection whose next request is already waiting when the idle timer fires (closes only when really idle)', async () => {
    const c = await rawClient(port);
    c.sock.write(GET);
    await c.answers(1);
    await new Promise((r) => setTimeout(r, 1000));
    // The next request reaches the proxy's socket, then this process (the proxy too) is kept busy past
    // the idle deadline (2 s, 3 s with Node 20's 1 s grace): when the loop runs again, the idle timer
    // fires before the request is read. Node alone would destroy the socket (a reset to the client).
    await new Promise<void>((r) =>
      setImmediate(() => {
        c.sock.write(GET);
        const until = performance.now() + 3000;
        while (performance.now() < until) {
          // busy: the proxy's event loop does not run
        }
        r();
      }),
    );
    const outcome = await Promise.race([
      c.answers(2).then(() => 'answered'),
      c.ended.then((e) => `closed by the proxy (${e.error ?? 'FIN'})`),
    ]);
    expect(outcome).toBe('answered');
    c.sock.destroy();
  });

  it("makes Node's agent and undici retire an idle socket before the proxy closes it", async () => {
    // Node's agent applies the hint (timeout − 1 s) only when it has a timeout of its own.
    const agent = new HttpAgent({ keepAlive: true, maxSockets: 1, timeout: 60_000 });
    const nodeSocket = await new Promise<Socket>((resolve, reject) => {
      const req = httpRequest(`http://127.0.0.1:${port}/`, { agent }, (res) => {
        res.resume();
        res.on('end', () => resolve(req.socket as Socket));
      });
      req.on('error', reject);
      req.end();
    });
    const undiciSockets: Socket[] = [];
    // The in-process proxy speaks undici upstream too: only the client's socket to the proxy counts.
    const onConnect = ({ socket }: { socket: Socket }) => {
      if (socket.remotePort === port) undiciSockets.push(socket);
    };
    diagnostics.subscribe('undici:client:connected', onConnect as never);
    const client = new Agent();
    try {
      const res = await request(`http://127.0.0.1:${port}/`, { dispatcher: client });
      await res.body.text();
      expect(undiciSockets).toHaveLength(1);
      // Who closed it: a socket the proxy closes gets its FIN ('end') first; one the client retires does not.
      const closedBy = (s: Socket) =>
        new Promise<string>((resolve) => {
          let fin = false;
          s.on('end', () => {
            fin = true;
          });
          s.on('close', () => resolve(fin ? 'proxy' : 'client'));
        });
      expect(await Promise.all([closedBy(nodeSocket), closedBy(undiciSockets[0]!)])).toEqual([
        'client',
        'client',
      ]);
    } finally {
      diagnostics.unsubscribe('undici:client:connected', onConnect as never);
      agent.destroy();
      await client.close();
    }
  });

  it('takes a new timeout on the open listener, and defaults to 120 s', async () => {
    const announced = async () => {
      const c = await rawClient(port);
      c.sock.write(GET);
      await c.answers(1);
      c.sock.destroy();
      return /\r\nkeep-alive: (.*)\r\n/i.exec(c.received())?.[1];
    };
    await route(7000);
    expect(await announced()).toBe('timeout=7');
    await route();
    expect(KEEP_ALIVE_TIMEOUT_MS).toBe(120_000);
    expect(await announced()).toBe('timeout=120');
    await route(2000);
  });
});
