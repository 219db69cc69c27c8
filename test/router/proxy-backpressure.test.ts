import { createHash, randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProxyRouter } from '../../src/router/proxy/client.js';
import { ensureProxy, stopProxy } from '../../src/router/proxy/launch.js';
import { requireBuilt } from '../helpers/services.js';
import { freePort, startBackend, type TestBackend, tempDir } from './helpers.js';

// Issue 18: a 1 GB upload to an instance that reads slowly and a 1 GB download by a client that reads
// slowly, through the proxy as it runs in production (its own process, two workers). Backpressure means the
// proxy holds a bounded amount whatever the sizes: its process tree's RSS grows by at most 64 MB. The
// bytes are hashed on both ends; each 1 MB block carries its index, so a reordered, repeated or lost block
// changes the hash.

const ENTRY = new URL('../../dist/router/proxy/main.js', import.meta.url).pathname;
const MB = 1024 * 1024;
const BLOCKS = 1024; // 1 GB
const RSS_GROWTH_LIMIT = 64 * MB;

const pattern = randomBytes(MB);

/** BLOCKS blocks of 1 MB: the random pattern with the block's index in its first 8 bytes. */
function gigabyte(): Readable {
  let i = 0;
  return new Readable({
    read() {
      if (i === BLOCKS) return void this.push(null);
      const block = Buffer.from(pattern);
      block.writeBigUInt64BE(BigInt(i++));
      this.push(block);
    },
  });
}

let expectedHash = '';

/** Reads `source` to the end slower than the writer can write (a pause every 4 MB), hashing it. */
async function slowRead(source: AsyncIterable<Buffer>): Promise<{ hash: string; bytes: number }> {
  const h = createHash('sha256');
  let bytes = 0;
  let sincePause = 0;
  for await (const chunk of source) {
    h.update(chunk);
    bytes += chunk.length;
    sincePause += chunk.length;
    if (sincePause >= 4 * MB) {
      sincePause = 0;
      // Throttling, not synchronisation: the reader is slower than the writer, so buffers fill up.
      await delay(15);
    }
  }
  return { hash: h.digest('hex'), bytes };
}

/** Resident memory of `pid` and every descendant, in bytes. */
function treeRss(pid: number): number {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
    } catch {}
  }
  let total = 0;
  const queue = [pid];
  while (queue.length) {
    const p = queue.pop()!;
    try {
      const m = readFileSync(`/proc/${p}/status`, 'utf8').match(/VmRSS:\s+(\d+) kB/);
      if (m) total += Number(m[1]) * 1024;
    } catch {}
    queue.push(...(children.get(p) ?? []));
  }
  return total;
}

/** Samples the proxy tree's RSS every 100 ms while `work` runs; returns the largest growth seen. */
async function rssGrowthDuring(pid: number, work: () => Promise<void>): Promise<number> {
  const base = treeRss(pid);
  let peak = base;
  const timer = setInterval(() => {
    peak = Math.max(peak, treeRss(pid));
  }, 100);
  try {
    await work();
  } finally {
    clearInterval(timer);
  }
  return Math.max(peak, treeRss(pid)) - base;
}

describe.runIf(requireBuilt(ENTRY))('proxy backpressure: 1 GB each way through a slow end', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let pid: number;
  let port: number;
  let backend: TestBackend;
  let router: ProxyRouter;
  let uploaded: Promise<{ hash: string; bytes: number }> | undefined;

  beforeAll(async () => {
    expectedHash = await slowRead(gigabyte()).then((r) => r.hash);
    tmp = await tempDir();
    ({ pid } = await ensureProxy(tmp.dir, { entry: ENTRY, workers: 2 }));
    backend = await startBackend('big', (req, res) => {
      if (req.method === 'POST') {
        uploaded = slowRead(req);
        void uploaded.then((r) => res.end(JSON.stringify(r)));
        return;
      }
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': BLOCKS * MB });
      void pipeline(gigabyte(), res).catch(() => {});
    });
    port = await freePort();
    router = new ProxyRouter({ dataDir: tmp.dir });
    await router.ensureRoute({ service: 'big', listen: `127.0.0.1:${port}`, drainTimeoutMs: 1000 });
    await router.addBackends('big', [{ id: 'big', address: backend.address, revision: 1 }]);
    // Warm the workers up (first request allocates the route's pools) before the baseline.
    for (let i = 0; i < 4; i++) await getSmall();
  }, 120_000);

  afterAll(async () => {
    await router?.close();
    if (tmp) await stopProxy(tmp.dir);
    await backend?.close();
    await tmp?.remove();
  });

  function getSmall(): Promise<void> {
    return new Promise((res, rej) => {
      const r = httpRequest({ port, host: '127.0.0.1', path: '/small', method: 'HEAD' }, (m) => {
        m.resume();
        m.on('end', res);
      });
      r.on('error', rej);
      r.end();
    });
  }

  it('a 1 GB upload to an instance that reads slowly arrives intact, and the proxy holds at most 64 MB more', async () => {
    let answer = '';
    const growth = await rssGrowthDuring(pid, async () => {
      const res = await new Promise<IncomingMessage>((resolve, reject) => {
        const req = httpRequest(
          {
            port,
            host: '127.0.0.1',
            path: '/upload',
            method: 'POST',
            headers: { 'content-length': BLOCKS * MB, 'content-type': 'application/octet-stream' },
          },
          resolve,
        );
        req.on('error', reject);
        pipeline(gigabyte(), req).catch(reject);
      });
      expect(res.statusCode).toBe(200);
      for await (const c of res) answer += c;
    });
    expect(JSON.parse(answer)).toEqual({ hash: expectedHash, bytes: BLOCKS * MB });
    expect(await uploaded).toEqual({ hash: expectedHash, bytes: BLOCKS * MB });
    console.log(`1 GB upload: proxy RSS grew by ${(growth / MB).toFixed(1)} MB`);
    expect(growth).toBeLessThanOrEqual(RSS_GROWTH_LIMIT);
  }, 300_000);

  it('a 1 GB download by a client that reads slowly arrives intact, and the proxy holds at most 64 MB more', async () => {
    let got = { hash: '', bytes: 0 };
    const growth = await rssGrowthDuring(pid, async () => {
      const res = await new Promise<IncomingMessage>((resolve, reject) => {
        const req = httpRequest({ port, host: '127.0.0.1', path: '/download' }, resolve);
        req.on('error', reject);
        req.end();
      });
      expect(res.statusCode).toBe(200);
      got = await slowRead(res);
    });
    expect(got).toEqual({ hash: expectedHash, bytes: BLOCKS * MB });
    console.log(`1 GB download: proxy RSS grew by ${(growth / MB).toFixed(1)} MB`);
    expect(growth).toBeLessThanOrEqual(RSS_GROWTH_LIMIT);
  }, 300_000);
});
