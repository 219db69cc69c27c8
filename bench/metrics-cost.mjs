#!/usr/bin/env node
// Benchmark: what Prometheus metrics cost Baton's embedded proxy. One proxy (a primary and its workers)
// in front of two backends; wrk at full load in alternating rounds: `off` (nobody scrapes) and `on` (a
// scraper renders the control plane's /metrics — the proxy's summed status over the admin socket, turned
// into the exposition text by prom-client — every --scrape-interval, far more often than Prometheus'
// usual 15 s). Prints requests/s, p99 and the proxy's CPU per request for each, and the ratio on/off.
// The data path's own counters (status class, latency sum, connect errors, retries, connections) are
// plain integer increments that are always on: both sides pay them.
// With `--baseline DIR` (a build of the code before the counters: `git archive <commit> src tsconfig*.json
// package.json | tar -x -C DIR`, node_modules linked, `npx tsc -p tsconfig.build.json`), a second proxy
// of that code runs beside it and takes a third turn in each round: the cost of the counters themselves.
// Needs: `npm run build` and wrk (Debian: apt-get install wrk).
// Usage: node bench/metrics-cost.mjs [--seconds 5] [--rounds 4] [--connections 32] [--workers N]
//        [--scrape-interval 1000] [--baseline DIR]
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { proxyRoutes } from '../dist/metrics/control-plane.js';
import { registerProxyMetrics } from '../dist/metrics/proxy-metrics.js';
import { Scrape } from '../dist/metrics/scrape.js';
import { ProxyRouter } from '../dist/router/proxy/client.js';
import { ensureProxy, stopProxy } from '../dist/router/proxy/launch.js';

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '5' },
    rounds: { type: 'string', default: '4' },
    connections: { type: 'string', default: '32' },
    workers: { type: 'string', default: String(availableParallelism()) },
    'scrape-interval': { type: 'string', default: '1000' },
    baseline: { type: 'string' },
  },
});
const SECONDS = Number(args.seconds);
const ROUNDS = Number(args.rounds);
const CONNECTIONS = Number(args.connections);
const WORKERS = Number(args.workers);
const SCRAPE_MS = Number(args['scrape-interval']);
if (spawnSync('sh', ['-c', 'command -v wrk']).status !== 0) {
  process.stderr.write('bench: missing wrk (apt-get install wrk)\n');
  process.exit(2);
}
const dir = mkdtempSync(join(tmpdir(), 'baton-bench-metrics-'));
const dataDir = join(dir, 'data');
const freePort = () =>
  new Promise((res) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
  });

// Two backends in one child process (keep-alive, a small fixed body).
const backend = spawn(
  process.execPath,
  [
    '-e',
    `const http=require('http');const ports=[];let n=0;
for(let i=0;i<2;i++){const s=http.createServer((q,r)=>{r.writeHead(200,{'content-type':'text/plain','content-length':3});r.end('ok\\n')});
s.keepAliveTimeout=60000;s.listen(0,'127.0.0.1',()=>{ports.push(s.address().port);if(++n===2)console.log(ports.join(','))})}`,
  ],
  { stdio: ['ignore', 'pipe', 'inherit'] },
);
const ports = await new Promise((res) =>
  backend.stdout.once('data', (d) => res(String(d).trim().split(',').map(Number))),
);

const proxyPort = await freePort();
const started = await ensureProxy(dataDir, { workers: WORKERS });
const router = new ProxyRouter({ dataDir });
await router.ensureRoute({ service: 'bench', listen: `127.0.0.1:${proxyPort}`, drainTimeoutMs: 1000 });
await router.addBackends(
  'bench',
  ports.map((p, i) => ({ id: `b${i}`, address: `127.0.0.1:${p}`, revision: 1 })),
);
const proxyPids = [started.pid, ...((await router.health()).workers ?? [])];
// The baseline: the same proxy built from the code before the data-path counters.
let base;
if (args.baseline) {
  const baseData = join(dir, 'baseline');
  const port = await freePort();
  const s = await ensureProxy(baseData, {
    workers: WORKERS,
    entry: join(args.baseline, 'dist', 'router', 'proxy', 'main.js'),
  });
  const r = new ProxyRouter({ dataDir: baseData });
  await r.ensureRoute({ service: 'bench', listen: `127.0.0.1:${port}`, drainTimeoutMs: 1000 });
  await r.addBackends(
    'bench',
    ports.map((p, i) => ({ id: `b${i}`, address: `127.0.0.1:${p}`, revision: 1 })),
  );
  base = { dataDir: baseData, port, pids: [s.pid, ...((await r.health()).workers ?? [])] };
}
const TICK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

/** CPU seconds (user + system) used so far by these processes. */
function cpuSeconds(list) {
  let ticks = 0;
  for (const pid of list) {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    ticks += Number(f[11]) + Number(f[12]);
  }
  return ticks / TICK;
}

// The scraper: the same code as the control plane's GET /metrics (proxy part).
const scrape = new Scrape();
registerProxyMetrics(scrape, proxyRoutes(dataDir));
const scrapeMs = [];
let lastText = '';
async function scrapeOnce() {
  const t0 = performance.now();
  lastText = await scrape.render();
  scrapeMs.push(performance.now() - t0);
}

/** wrk at full load (asynchronously, so the scraper can run in this process meanwhile). */
function wrk(port = proxyPort) {
  return new Promise((resolve) => {
    const child = spawn(
      'wrk',
      ['-t1', `-c${CONNECTIONS}`, `-d${SECONDS}s`, '--latency', `http://127.0.0.1:${port}/`],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    child.stdout.on('data', (c) => {
      out += c;
    });
    child.on('close', () => resolve(out));
  });
}

async function round(on, baseline = false) {
  const pids = baseline ? base.pids : proxyPids;
  const cpu0 = cpuSeconds(pids);
  let timer;
  let scraping = Promise.resolve();
  if (on) {
    timer = setInterval(() => {
      scraping = scraping.then(scrapeOnce);
    }, SCRAPE_MS);
  }
  const out = await wrk(baseline ? base.port : proxyPort);
  clearInterval(timer);
  await scraping;
  const cpu = cpuSeconds(pids) - cpu0;
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
  const total = Number(/(\d+) requests in/.exec(out)?.[1]);
  const m = /99%\s+([\d.]+)(us|ms|s)/.exec(out);
  const p99 = m ? Number(m[1]) * (m[2] === 'us' ? 0.001 : m[2] === 's' ? 1000 : 1) : Number.NaN;
  const errors = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? '0');
  return { rps, p99, errors, cpuUsPerRequest: (cpu * 1e6) / total };
}

const cleanup = async () => {
  backend.kill('SIGTERM');
  await stopProxy(dataDir);
  if (base) await stopProxy(base.dataDir);
  rmSync(dir, { recursive: true, force: true });
};
process.on('uncaughtException', (e) => {
  process.stderr.write(`bench: ${e.stack ?? e}\n`);
  cleanup().finally(() => process.exit(1));
});

await round(false); // warm-up, not counted
const runs = { off: [], on: [], baseline: [] };
const sides = base ? ['off', 'on', 'baseline'] : ['off', 'on'];
for (let i = 0; i < ROUNDS; i++) {
  // Alternating, and the order rotates too, so a drift of the machine's load hits every side.
  const order = sides.map((_, k) => sides[(i + k) % sides.length]);
  for (const name of order) runs[name].push(await round(name === 'on', name === 'baseline'));
}
await scrapeOnce();
const series = lastText.split('\n').filter((l) => l && !l.startsWith('#')).length;
// The proxy's CPU per scrape, measured without load (so the machine's noise hardly touches it).
const IDLE_SCRAPES = 200;
const idle0 = cpuSeconds(proxyPids);
for (let i = 0; i < IDLE_SCRAPES; i++) await scrapeOnce();
const proxyMsPerScrape = ((cpuSeconds(proxyPids) - idle0) * 1000) / IDLE_SCRAPES;
await cleanup();

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const summary = (name) => ({
  rps: median(runs[name].map((r) => r.rps)),
  p99: median(runs[name].map((r) => r.p99)),
  cpu: median(runs[name].map((r) => r.cpuUsPerRequest)),
  errors: runs[name].reduce((a, r) => a + r.errors, 0),
});
// Each round pair ran back to back: their ratio is less exposed to the machine's drifting load.
const pairRatios = runs.on.map((r, i) => r.rps / runs.off[i].rps);
const off = summary('off');
const on = summary('on');
const fmt = (n, d = 0) => n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });
console.log(
  `metrics cost: ${WORKERS} proxy workers, wrk -c${CONNECTIONS} ${SECONDS}s x ${ROUNDS} rounds each, scrape every ${SCRAPE_MS} ms`,
);
console.log('round rps   off: ' + runs.off.map((r) => fmt(r.rps)).join(' · '));
console.log('round rps   on:  ' + runs.on.map((r) => fmt(r.rps)).join(' · '));
console.log(`                 req/s (median)   p99 ms   proxy CPU µs/req   non-2xx`);
const baseline = base ? summary('baseline') : undefined;
for (const [name, s] of [
  ...(baseline ? [['before counters', baseline]] : []),
  ['metrics off', off],
  ['metrics on', on],
])
  console.log(
    `${name.padEnd(16)} ${fmt(s.rps).padStart(14)} ${fmt(s.p99, 2).padStart(8)} ${fmt(s.cpu, 1).padStart(18)} ${String(s.errors).padStart(9)}`,
  );
console.log(
  `on/off: req/s ${fmt((on.rps / off.rps) * 100, 1)} % (cost ${fmt((1 - on.rps / off.rps) * 100, 1)} %), CPU per request ${fmt((on.cpu / off.cpu) * 100, 1)} %`,
);
console.log(
  `per pair on/off req/s: ${pairRatios.map((x) => `${fmt(x * 100, 1)} %`).join(' · ')}; median ${fmt(median(pairRatios) * 100, 1)} %`,
);
if (baseline) {
  const pairs = runs.on.map((r, i) => r.rps / runs.baseline[i].rps);
  console.log(
    `on/before counters: req/s ${fmt((on.rps / baseline.rps) * 100, 1)} %, per round median ${fmt(median(pairs) * 100, 1)} %, CPU per request ${fmt((on.cpu / baseline.cpu) * 100, 1)} %`,
  );
}
console.log(
  `proxy CPU per scrape (idle, ${IDLE_SCRAPES} scrapes): ${fmt(proxyMsPerScrape, 2)} ms = ${fmt((proxyMsPerScrape / 15000) * 100, 3)} % of a core at a 15 s scrape interval, ${fmt((proxyMsPerScrape / SCRAPE_MS) * 100, 2)} % at ${SCRAPE_MS} ms`,
);
console.log(
  `scrapes: ${scrapeMs.length}, median ${fmt(median(scrapeMs), 1)} ms, max ${fmt(Math.max(...scrapeMs), 1)} ms, ${series} samples per scrape`,
);
