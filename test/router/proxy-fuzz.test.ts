import { existsSync } from 'node:fs';
import type { Socket } from 'node:net';
import fc from 'fast-check';
import { Client } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProxyRouter } from '../../src/router/proxy/client.js';
import { ensureProxy, stopProxy } from '../../src/router/proxy/launch.js';
import { freePort, tempDir } from './helpers.js';
import { type RawBackend, rawBackend } from './raw.js';

const ENTRY = new URL('../../dist/router/proxy/main.js', import.meta.url).pathname;
const CONCURRENT = 6;
/** Stands for the exchange's own token in a generated response (as long as a token, so lengths hold). */
const TOKEN = '\u0000tok\u0000\u0000';
const token = (run: number, k: number): string => `t${String(run % 10_000).padStart(4, '0')}${k}`;

/** Pieces a response is made of: mostly HTTP, with arbitrary bytes anywhere. */
const piece = fc.oneof(
  fc.constantFrom(
    'HTTP/1.1 200 OK\r\n',
    'HTTP/1.1 404 Not Found\r\n',
    'HTTP/1.0 200 OK\r\n',
    'HTTP/1.1 204 No Content\r\n',
    'HTTP/1.1 304 Not Modified\r\n',
    'HTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\n',
    'HTTP/1.1 100 Continue\r\n\r\n',
    'HTTP/1.1 200 OK\x01\r\n',
    'HTTP/1.1 099 Odd\r\n',
    `X-Token: ${TOKEN}\r\n`,
    'Content-Length: 0\r\n',
    `Content-Length: ${TOKEN.length + 1}\r\n`,
    'Content-Length: 9999\r\n',
    'Content-Length: x\r\n',
    'Transfer-Encoding: chunked\r\n',
    'Transfer-Encoding: gzip, chunked\r\n',
    'Connection: close\r\n',
    'Connection: keep-alive\r\n',
    'Set-Cookie: s=1\r\n',
    '\r\n',
    '\n',
    '\r',
    `${TOKEN}.`,
    `6\r\n${TOKEN}\r\n`,
    '0\r\n\r\n',
    'ffffffff\r\n',
  ),
  fc.uint8Array({ maxLength: 24 }).map((a) => Buffer.from(a).toString('latin1')),
);
const response = fc.record({
  /** A well-formed start most of the time, so fuzzing reaches past the status line. */
  start: fc.constantFrom(
    `HTTP/1.1 200 OK\r\nX-Token: ${TOKEN}\r\nContent-Length: ${TOKEN.length}\r\n\r\n${TOKEN}`,
    `HTTP/1.1 200 OK\r\nX-Token: ${TOKEN}\r\nTransfer-Encoding: chunked\r\n\r\n6\r\n${TOKEN}\r\n0\r\n\r\n`,
    `HTTP/1.1 200 OK\r\nX-Token: ${TOKEN}\r\n\r\n${TOKEN}`,
    '',
  ),
  /** Appended to the start; none a third of the time, so a well-formed answer (and reuse) is common. */
  pieces: fc.oneof(
    { weight: 1, arbitrary: fc.constant([]) },
    { weight: 2, arbitrary: fc.array(piece, { maxLength: 12 }) },
  ),
  /** Close the connection after writing (else the proxy's response timeout ends the exchange). */
  close: fc.boolean(),
  /**
   * `split`: written in two parts, the second a moment later; `again`: a second, complete answer comes
   * late, just before whatever this connection answers next (the desync of issue 11).
   */
  late: fc.constantFrom('no', 'split', 'again'),
});
const AGAIN = `HTTP/1.1 200 OK\r\nX-Token: ${TOKEN}\r\nContent-Length: ${TOKEN.length}\r\n\r\n${TOKEN}`;
type Response = typeof response extends fc.Arbitrary<infer T> ? T : never;

interface Outcome {
  token: string;
  status?: number;
  proxyError?: string;
  text: string;
  error?: string;
}

/**
 * Arbitrary bytes as backend responses to concurrent clients, through the proxy process with two workers:
 * no worker exits, every client gets a well-formed response (its own, or the proxy's 502/504), or its
 * connection cut after a head; no bytes of one exchange ever reach another client.
 */
describe.runIf(existsSync(ENTRY) || process.env.CI === 'true')('proxy fuzz: arbitrary backend bytes', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let router: ProxyRouter;
  let backend: RawBackend;
  let base: string;
  const scripts = new Map<string, Response>();
  /** Answers a connection still owes (written before its next one). */
  const late = new WeakMap<Socket, string>();

  beforeAll(async () => {
    dir = await tempDir();
    await ensureProxy(dir.dir, { entry: ENTRY, workers: 2 });
    router = new ProxyRouter({ dataDir: dir.dir });
    backend = await rawBackend((r) => {
      const mine = /^GET \/(\S+)/.exec(r.head)?.[1] ?? '';
      const script = scripts.get(mine);
      if (script === undefined) {
        r.socket.destroy();
        return;
      }
      const own = (s: string): string => s.split(TOKEN).join(mine);
      const owed = late.get(r.socket);
      if (owed !== undefined) {
        late.delete(r.socket);
        r.socket.write(owed, 'latin1');
      }
      const bytes = own(script.start + script.pieces.join(''));
      const cut = script.late === 'split' ? bytes.length >> 1 : bytes.length;
      r.socket.write(bytes.slice(0, cut), 'latin1');
      const rest = (): void => {
        if (r.socket.destroyed) return;
        r.socket.write(bytes.slice(cut), 'latin1');
        if (script.late === 'again') late.set(r.socket, own(AGAIN));
        if (script.close) r.socket.end();
      };
      if (script.late === 'split') setTimeout(rest, 20);
      else rest();
    });
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    await router.ensureRoute({
      service: 'fuzz',
      listen: `127.0.0.1:${port}`,
      drainTimeoutMs: 500,
      limits: { responseTimeoutMs: 300 },
    });
    await router.addBackends('fuzz', [{ id: 'a', address: backend.address, revision: 1 }]);
  }, 30_000);
  afterAll(async () => {
    await router?.close();
    await stopProxy(dir.dir);
    await backend?.close();
    await dir.remove();
  });

  /** One client on its own connection asks for its token's script. */
  const ask = async (token: string): Promise<Outcome> => {
    const c = new Client(base);
    try {
      const res = await c.request({ path: `/${token}`, method: 'GET' });
      const text = `${JSON.stringify(res.headers)}\n${await res.body.text()}`;
      const proxyError = res.headers['x-baton-error'];
      return {
        token,
        status: res.statusCode,
        text,
        ...(typeof proxyError === 'string' ? { proxyError } : {}),
      };
    } catch (e) {
      return { token, text: '', error: (e as NodeJS.ErrnoException).code ?? (e as Error).message };
    } finally {
      await c.destroy();
    }
  };

  it('no worker exits; each client gets its own answer, a 502/504, or a cut; nothing of another', async () => {
    const workers = (await router.health()).workers ?? [];
    expect(workers).toHaveLength(2);
    let run = 0;
    let answered = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(response, { minLength: CONCURRENT, maxLength: CONCURRENT }), async (list) => {
        run++;
        const tokens = list.map((_, k) => token(run, k));
        for (const [k, s] of list.entries()) scripts.set(tokens[k]!, s);
        const outcomes = await Promise.all(tokens.map(ask));
        for (const t of tokens) scripts.delete(t);
        for (const o of outcomes) {
          // Another exchange's token anywhere in what this client received.
          const foreign = tokens.filter((t) => t !== o.token && o.text.includes(t));
          expect(foreign, `client ${o.token} received ${foreign.join(', ')}`).toEqual([]);
          if (o.error !== undefined) {
            // Only a connection cut is allowed, never a response undici cannot parse.
            expect(o.error, `client ${o.token}`).toMatch(/^(UND_ERR_SOCKET|ECONNRESET)$/);
            continue;
          }
          if (o.proxyError !== undefined) expect([502, 503, 504]).toContain(o.status);
          else answered++;
        }
      }),
      { numRuns: 50 },
    );
    // Not vacuous: well-formed backend answers did come through.
    expect(answered).toBeGreaterThan(0);
    expect((await router.health()).workers).toEqual(workers);
  }, 180_000);
});
