#!/usr/bin/env node
// Benchmark: what the dashboard's event stream costs the control plane. The same rolling deploy (under
// load) runs with no dashboard, then with N clients following GET /v1/events: N raw SSE clients
// (default), or N signed-in dashboard pages in Debian's chromium (--browsers), which also fetch the status
// and chart history as a person's browser does. Measured from /proc for the `baton serve` process:
// CPU seconds and peak RSS, over the deploy and over an idle window with the clients connected.
// Usage: npm run build && node bench/dashboard-stream.mjs [--clients 10] [--browsers] [--rps 100] [--idle 10]
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startLoad } from '../dist/testing/load.js';
import { deployStream, freePort, root, sleep, startBaton } from '../scripts/lib/local-baton.mjs';

const { values: args } = parseArgs({
  options: {
    clients: { type: 'string', default: '10' },
    browsers: { type: 'boolean', default: false },
    rps: { type: 'string', default: '100' },
    idle: { type: 'string', default: '10' },
    deploys: { type: 'string', default: '3' },
  },
});
const CLIENTS = Number(args.clients);
const RPS = Number(args.rps);
const IDLE_S = Number(args.idle);
const DEPLOYS = Number(args.deploys);
const TICK = 100; // USER_HZ on Linux

const baton = await startBaton('baton-bench-ui-', { stderr: 'ignore' });
const pid = baton.child.pid;
const port = await freePort();

const cpuSeconds = () => {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / TICK;
};
const rssMiB = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) / 1024;

/** CPU seconds and peak RSS of the control plane while `fn` runs. */
async function measure(fn) {
  const cpu0 = cpuSeconds();
  let peak = rssMiB();
  const t0 = performance.now();
  const timer = setInterval(() => {
    peak = Math.max(peak, rssMiB());
  }, 100);
  try {
    await fn();
  } finally {
    clearInterval(timer);
  }
  const secs = (performance.now() - t0) / 1000;
  const cpu = cpuSeconds() - cpu0;
  return { secs, cpu, cpuPct: (100 * cpu) / secs, peakRss: Math.max(peak, rssMiB()) };
}

const spec = (version) => ({
  runtime: 'process',
  command: process.execPath,
  args: ['server.js'],
  cwd: join(root, 'examples', 'hello'),
  env: { VERSION: version },
  replicas: 2,
  probe: {
    http: { path: '/health', status: 200 },
    interval: 250,
    timeout: 1000,
    healthyThreshold: 1,
    unhealthyThreshold: 3,
    startTimeout: 15000,
  },
  traffic: { listen: `127.0.0.1:${port}`, drainTimeout: 10000 },
  strategy: { type: 'rolling', maxSurge: 1, maxUnavailable: 0 },
  stopTimeout: 5000,
});
let version = 0;
const deploy = () =>
  deployStream({
    url: baton.url,
    token: baton.token,
    service: 'hello',
    spec: spec(`v${++version}`),
    actor: 'bench',
  });

/** N raw clients of the event stream; counts what they receive. */
function sseClients(n) {
  const abort = new AbortController();
  const got = { events: 0, bytes: 0 };
  const done = [];
  for (let i = 0; i < n; i++) {
    done.push(
      (async () => {
        const res = await fetch(`${baton.url}/v1/events`, {
          headers: { authorization: `Bearer ${baton.token}` },
          signal: abort.signal,
        });
        for await (const chunk of res.body) {
          got.bytes += chunk.length;
          got.events += (
            Buffer.from(chunk)
              .toString()
              .match(/^event: /gm) ?? []
          ).length;
        }
      })().catch(() => {}),
    );
  }
  const close = async () => {
    abort.abort();
    await Promise.all(done);
  };
  return { got, close };
}

/** N signed-in dashboard pages in one chromium. */
async function browserClients(n) {
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
  for (let i = 0; i < n; i++) {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    await page.goto(`${baton.url}/ui/`);
    await page.getByLabel('API token').fill(baton.token);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('[data-service="hello"]').waitFor();
  }
  return { got: undefined, close: () => browser.close() };
}

let load;
try {
  await deploy();
  load = startLoad(`http://127.0.0.1:${port}`, { rps: RPS, path: '/version' });
  await sleep(3000); // the sampler's baseline and a few points
  const rows = [];
  const run = async (label, clients) => {
    const idle = await measure(() => sleep(IDLE_S * 1000));
    const during = await measure(async () => {
      for (let i = 0; i < DEPLOYS; i++) await deploy();
    });
    rows.push({ label, idle, during, got: clients?.got && { ...clients.got } });
  };
  await run('no dashboard', undefined);
  const clients = args.browsers ? await browserClients(CLIENTS) : sseClients(CLIENTS);
  await sleep(1000);
  await run(`${CLIENTS} ${args.browsers ? 'dashboard pages (chromium)' : 'SSE clients'}`, clients);
  await clients.close();
  const report = await load.stop();
  const f = (x, d = 1) => x.toFixed(d);
  console.log(
    `control plane pid ${pid}; load ${RPS} req/s on the service (${report.sent} requests, ${report.failed} failed); ${DEPLOYS} rolling deploys (2 replicas) per row; idle window ${IDLE_S}s`,
  );
  console.log(
    '| clients | idle CPU % | idle peak RSS MiB | deploys s | deploys CPU s | deploys CPU % | deploys peak RSS MiB | events received |',
  );
  console.log('|---|---|---|---|---|---|---|---|');
  for (const r of rows)
    console.log(
      `| ${r.label} | ${f(r.idle.cpuPct)} | ${f(r.idle.peakRss)} | ${f(r.during.secs)} | ${f(r.during.cpu, 2)} | ${f(r.during.cpuPct)} | ${f(r.during.peakRss)} | ${r.got ? `${r.got.events} (${f(r.got.bytes / 1024)} KiB)` : '–'} |`,
    );
} finally {
  await load?.stop().catch(() => {});
  await baton.stop();
}
