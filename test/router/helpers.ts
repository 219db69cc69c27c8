import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Dispatcher, request } from 'undici';
import { ProxyRouter } from '../../src/router/proxy/client.js';
import { ProxyServer } from '../../src/router/proxy/server.js';
import { freePort } from '../helpers/ports.js';

export { freePort };

export async function tempDir(): Promise<{ dir: string; remove: () => Promise<void> }> {
  // Short path: unix socket paths are limited to ~107 bytes.
  const dir = await mkdtemp(join(tmpdir(), 'bp-'));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

/** Polls `cond` until it holds; fails with `what` after the deadline. */
export async function waitFor(
  cond: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 5000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export interface TestBackend {
  name: string;
  port: number;
  address: string;
  server: Server;
  /** Requests received so far. */
  hits: number;
  /** Headers of the last request. */
  last: IncomingMessage['headers'] | undefined;
  close(): Promise<void>;
}

type Handler = (req: IncomingMessage, res: ServerResponse, b: TestBackend) => void;

const defaultHandler: Handler = (req, res, b) => {
  req.resume();
  req.on('end', () => {
    res.setHeader('content-type', 'text/plain');
    res.setHeader('x-backend', b.name);
    res.end(b.name);
  });
};

/** A real HTTP backend on 127.0.0.1:0 answering its name (or running `handler`). */
export function startBackend(name: string, handler: Handler = defaultHandler): Promise<TestBackend> {
  return new Promise((resolve) => {
    const b = { name, hits: 0, last: undefined } as TestBackend;
    b.server = createServer((req, res) => {
      b.hits++;
      b.last = req.headers;
      handler(req, res, b);
    });
    b.server.listen(0, '127.0.0.1', () => {
      b.port = (b.server.address() as { port: number }).port;
      b.address = `127.0.0.1:${b.port}`;
      b.close = () =>
        new Promise<void>((r) => {
          b.server.close(() => r());
          b.server.closeAllConnections();
        });
      resolve(b);
    });
  });
}

/** The proxy server in this process plus a client on its admin socket. */
export async function startInProcessProxy(dir?: string): Promise<{
  dir: string;
  server: ProxyServer;
  router: ProxyRouter;
  cleanup: () => Promise<void>;
}> {
  const tmp = dir ? undefined : await tempDir();
  const dataDir = dir ?? tmp!.dir;
  const server = await ProxyServer.start({ dataDir, shutdownTimeoutMs: 2000, passiveUnhealthyMs: 3000 });
  const router = new ProxyRouter({ dataDir });
  return {
    dir: dataDir,
    server,
    router,
    cleanup: async () => {
      await router.close();
      await server.close();
      await tmp?.remove();
    },
  };
}

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

/** One request with undici through `client`; never rejects on an HTTP status. */
export async function send(
  client: Dispatcher,
  url: string,
  opts: { method?: string; body?: string; headers?: Record<string, string>; signal?: AbortSignal } = {},
): Promise<Answer> {
  const res = await request(url, {
    method: (opts.method ?? 'GET') as 'GET',
    body: opts.body,
    headers: opts.headers,
    signal: opts.signal,
    dispatcher: client,
  });
  return { status: res.statusCode, headers: res.headers, text: await res.body.text() };
}
