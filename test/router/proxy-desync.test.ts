import { Client } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, startInProcessProxy } from './helpers.js';
import { type RawBackend, rawBackend } from './raw.js';

const CLIENTS = 40;
const RUNS = 100;
const WAVE = 8;

/**
 * Issue 11's desync: a backend answers each request at once and writes the same answer again a moment
 * later (after a GET, a HEAD with a body, a 204 with a body). With upstream connections shared between
 * clients, the late copy is read as the answer to whichever request went next on that connection: another
 * client got a page with someone else's cookie. Here 40 clients with distinct cookies, each on its own
 * connection, in waves (so upstream connections would be reused across clients), 100 times: every answer a
 * client gets is its own, or an error from the proxy.
 */
describe('proxy: no client ever receives a response meant for another', () => {
  let proxy: Awaited<ReturnType<typeof startInProcessProxy>>;
  let backend: RawBackend;
  let base: string;

  beforeAll(async () => {
    proxy = await startInProcessProxy();
    backend = await rawBackend((r) => {
      const id = /id=(\d+)/.exec(r.header('cookie') ?? '')?.[1] ?? 'none';
      const late = r.head.startsWith('HEAD')
        ? `HTTP/1.1 200 OK\r\nX-Echo: ${id}\r\nContent-Length: ${id.length}\r\n\r\n${id}`
        : r.head.startsWith('GET /204')
          ? `HTTP/1.1 204 No Content\r\nX-Echo: ${id}\r\n\r\n${id}`
          : `HTTP/1.1 200 OK\r\nX-Echo: ${id}\r\nContent-Length: ${id.length}\r\n\r\n${id}`;
      r.socket.write(late);
      setTimeout(
        () => {
          if (!r.socket.destroyed) r.socket.write(late);
        },
        5 + (Number(id) % 4) * 5,
      );
    });
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    await proxy.router.ensureRoute({ service: 'web', listen: `127.0.0.1:${port}`, drainTimeoutMs: 500 });
    await proxy.router.addBackends('web', [{ id: 'a', address: backend.address, revision: 1 }]);
  });
  afterAll(async () => {
    await proxy.cleanup();
    await backend.close();
  });

  /** One client: its own connection, two requests; what it got that was not its own. */
  const client = async (id: number, run: number): Promise<{ foreign: string[]; own: number }> => {
    const c = new Client(base);
    const foreign: string[] = [];
    let own = 0;
    const kinds = ['GET /', 'HEAD /', 'GET /204'];
    try {
      for (let i = 0; i < 2; i++) {
        const [method, path] = kinds[(id + run + i) % kinds.length]!.split(' ') as [string, string];
        try {
          const res = await c.request({ path, method: method as 'GET', headers: { cookie: `id=${id}` } });
          const text = await res.body.text();
          const echo = res.headers['x-echo'];
          if (res.headers['x-baton-error'] !== undefined) continue; // the proxy's own answer
          if (echo !== String(id)) foreign.push(`header ${String(echo)}`);
          else own++;
          if (text !== '' && text !== String(id)) foreign.push(`body ${text}`);
        } catch {
          // A connection the proxy cut carries nobody's data.
        }
      }
    } finally {
      await c.destroy();
    }
    return { foreign, own };
  };

  it(`${CLIENTS} clients with distinct cookies, ${RUNS} runs: 0 foreign answers`, async () => {
    const foreign: string[] = [];
    let own = 0;
    for (let run = 0; run < RUNS; run++) {
      for (let w = 0; w < CLIENTS; w += WAVE) {
        const wave = await Promise.all(Array.from({ length: WAVE }, (_, k) => client(w + k, run)));
        for (const r of wave) {
          foreign.push(...r.foreign.map((f) => `run ${run}: ${f}`));
          own += r.own;
        }
      }
    }
    expect(foreign).toEqual([]);
    // Not vacuous: most answers came from the backend, each to its own client.
    expect(own).toBeGreaterThan(CLIENTS * RUNS);
  }, 240_000);
});
