#!/usr/bin/env node
// Benchmark: Baton's embedded proxy and HAProxy in front of the same two backends, same load generators,
// in one run, alternating. Prints requests/s and p50/p99 at full load (wrk), the CPU each proxy spends per
// request (from /proc, so other load on the machine does not change it much), the p99 each adds at a fixed
// 1,000 requests/s (against the backends directly, with a precise C generator), and the ratios.
// Needs: `npm run build`, haproxy and wrk (Debian: apt-get install haproxy wrk), gcc (apt-get install gcc)
// to build bench/fixed-rate.c into a temporary directory.
// Usage: node bench/proxy-vs-haproxy.mjs [--seconds 5] [--rounds 3] [--connections 32] [--workers N]
//        [--rate 1000] [--rate-seconds 10]
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ProxyRouter } from '../dist/router/proxy/client.js';
import { ensureProxy, stopProxy } from '../dist/router/proxy/launch.js';

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '5' },
    rounds: { type: 'string', default: '3' },
    connections: { type: 'string', default: '32' },
    workers: { type: 'string', default: String(availableParallelism()) },
    rate: { type: 'string', default: '1000' },
    'rate-seconds': { type: 'string', default: '10' },
  },
});
const SECONDS = Number(args.seconds);
const ROUNDS = Number(args.rounds);
const CONNECTIONS = Number(args.connections);
const WORKERS = Number(args.workers);
const RATE = Number(args.rate);
const RATE_SECONDS = Number(args['rate-seconds']);
const missing = [
  ['haproxy', 'haproxy'],
  ['wrk', 'wrk'],
  ['gcc', 'gcc'],
].filter(([bin]) => spawnSync('sh', ['-c', `command -v ${bin}`]).status !== 0);
if (missing.length > 0) {
  process.stderr.write(
    `bench: missing ${missing.map(([b]) => b).join(', ')} (apt-get install ${missing.map(([, p]) => p).join(' ')})\n`,
  );
  process.exit(2);
}
const dir = mkdtempSync(join(tmpdir(), 'baton-bench-proxy-'));

// The fixed-rate generator: C, built here with the machine's gcc.
const fixedRateBin = join(dir, 'fixed-rate');
const cc = spawnSync(
  'gcc',
  ['-O2', '-o', fixedRateBin, fileURLToPath(new URL('./fixed-rate.c', import.meta.url))],
  { encoding: 'utf8' },
);
if (cc.status !== 0) {
  process.stderr.write(`bench: gcc could not build bench/fixed-rate.c:\n${cc.stderr}\n`);
  process.exit(2);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
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

// Baton's embedded proxy, as `baton serve` runs it: its own process (a primary and its workers), driven
// over the admin socket.
const proxyPort = await freePort();
const started = await ensureProxy(join(dir, 'data'), { workers: WORKERS });
const router = new ProxyRouter({ dataDir: join(dir, 'data') });
await router.ensureRoute({ service: 'bench', listen: `127.0.0.1:${proxyPort}`, drainTimeoutMs: 1000 });
await router.addBackends(
  'bench',
  ports.map((p, i) => ({ id: `b${i}`, address: `127.0.0.1:${p}`, revision: 1 })),
);
const batonPids = [started.pid, ...((await router.health()).workers ?? [])];

// HAProxy with the same backends, its default threads (one per core), keep-alive to the servers.
const haproxyPort = await freePort();
const cfg = join(dir, 'haproxy.cfg');
writeFileSync(
  cfg,
  `global
  maxconn 4000
defaults
  mode http
  timeout connect 5s
  timeout client 30s
  timeout server 30s
  option http-keep-alive
  http-reuse always
frontend fe
  bind 127.0.0.1:${haproxyPort}
  default_backend be
backend be
  balance roundrobin
${ports.map((p, i) => `  server b${i} 127.0.0.1:${p}`).join('\n')}
`,
);
const haproxy = spawn('haproxy', ['-db', '-f', cfg], { stdio: ['ignore', 'ignore', 'pipe'] });
let haproxyErr = '';
haproxy.stderr.on('data', (c) => {
  haproxyErr += c;
});
for (
  let i = 0;
  i < 100 &&
  !(await fetch(`http://127.0.0.1:${haproxyPort}/`).then(
    (r) => r.ok,
    () => false,
  ));
  i++
) {
  if (haproxy.exitCode !== null) throw new Error(`haproxy exited: ${haproxyErr}`);
  await sleep(50);
}

const targets = { baton: proxyPort, haproxy: haproxyPort };
const pids = { baton: batonPids, haproxy: [haproxy.pid] };
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

/** wrk at full load: requests/s, latency percentiles, and the proxy's CPU per request. */
function wrk(name) {
  const cpu0 = cpuSeconds(pids[name]);
  const r = spawnSync(
    'wrk',
    ['-t1', `-c${CONNECTIONS}`, `-d${SECONDS}s`, '--latency', `http://127.0.0.1:${targets[name]}/`],
    { encoding: 'utf8' },
  );
  const cpu = cpuSeconds(pids[name]) - cpu0;
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(r.stdout)?.[1]);
  const total = Number(/(\d+) requests in/.exec(r.stdout)?.[1]);
  const ms = (label) => {
    const m = new RegExp(`${label}%\\s+([\\d.]+)(us|ms|s)`).exec(r.stdout);
    if (!m) return Number.NaN;
    return Number(m[1]) * (m[2] === 'us' ? 0.001 : m[2] === 's' ? 1000 : 1);
  };
  const errors = /Non-2xx or 3xx responses: (\d+)/.exec(r.stdout)?.[1] ?? '0';
  return {
    rps,
    p50: ms(' 50'),
    p99: ms(' 99'),
    errors: Number(errors),
    cpuUsPerRequest: (cpu * 1e6) / total,
    cores: cpu / SECONDS,
  };
}

/**
 * The C generator at a fixed rate to several ports at once (each gets RATE requests/s on its own
 * connections, due at the same instants): latency percentiles per port, measured from each request's due
 * time, through the same moments of machine noise.
 */
function fixedRate(ports) {
  const r = spawnSync(
    fixedRateBin,
    ['127.0.0.1', ports.join(','), String(RATE), String(RATE_SECONDS), '8', '1', '/'],
    { encoding: 'utf8' },
  );
  const lines = r.stdout.trim().split('\n');
  if (r.status !== 0 || lines.length !== ports.length)
    throw new Error(`fixed-rate failed: ${r.stdout}${r.stderr}`);
  return lines.map((line) => {
    const get = (k) => Number(new RegExp(`${k}=(-?\\d+)`).exec(line)?.[1]);
    return {
      p50: get('p50_us') / 1000,
      p90: get('p90_us') / 1000,
      p99: get('p99_us') / 1000,
      errors: get('errors'),
    };
  });
}

const cleanup = async () => {
  haproxy.kill('SIGTERM');
  backend.kill('SIGTERM');
  await stopProxy(join(dir, 'data'));
  rmSync(dir, { recursive: true, force: true });
};
process.on('uncaughtException', (e) => {
  process.stderr.write(`bench: ${e.stack ?? e}\n`);
  cleanup().finally(() => process.exit(1));
});

const full = { baton: [], haproxy: [] };
for (let i = 0; i < ROUNDS; i++) {
  for (const name of ['baton', 'haproxy']) full[name].push(wrk(name));
}
// Fixed rate: direct, baton and haproxy side by side in each round (one generator, the same instants);
// added = p99 through − p99 direct of the same round; the median over rounds.
const added = { baton: [], haproxy: [] };
const rate = { direct: [], baton: [], haproxy: [] };
for (let i = 0; i < (RATE > 0 ? ROUNDS : 0); i++) {
  const [d, b, h] = fixedRate([ports[i % 2], targets.baton, targets.haproxy]);
  rate.direct.push(d);
  rate.baton.push(b);
  rate.haproxy.push(h);
  added.baton.push(b.p99 - d.p99);
  added.haproxy.push(h.p99 - d.p99);
}

const mean = (xs, k) => xs.reduce((a, x) => a + x[k], 0) / xs.length;
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const f = (n) => n.toFixed(2);
const line = (label, name) =>
  `${label.padEnd(12)} ${mean(full[name], 'rps').toFixed(0)} req/s, p50 ${f(mean(full[name], 'p50'))} ms, p99 ${f(mean(full[name], 'p99'))} ms, CPU ${mean(full[name], 'cpuUsPerRequest').toFixed(1)} µs/request (${f(mean(full[name], 'cores'))} cores), non-2xx ${full[name].reduce((a, x) => a + x.errors, 0)}; per round ${full[name].map((x) => x.rps.toFixed(0)).join(' / ')}`;
const ratios = full.baton.map((b, i) => b.rps / full.haproxy[i].rps);
const out = [
  `wrk -t1 -c${CONNECTIONS} -d${SECONDS}s, ${ROUNDS} alternating rounds, 2 keep-alive backends, baton proxy with ${WORKERS} workers, ${process.arch} ${availableParallelism()} cores`,
  line('baton proxy:', 'baton'),
  line('haproxy:', 'haproxy'),
  `ratio baton/haproxy: ${(mean(full.baton, 'rps') / mean(full.haproxy, 'rps')).toFixed(2)}x requests/s (per round ${ratios.map((r) => r.toFixed(2)).join(' / ')})`,
  `at ${RATE} req/s to each of direct, baton and haproxy at once (C generator, 8 keep-alive connections each, ${RATE_SECONDS} s after 1 s warm-up, latency from due time), p99 per round:`,
  `  direct ${rate.direct.map((x) => f(x.p99)).join(' / ')} ms; baton ${rate.baton.map((x) => f(x.p99)).join(' / ')} ms; haproxy ${rate.haproxy.map((x) => f(x.p99)).join(' / ')} ms`,
  `  median of rounds: p50 direct ${f(median(rate.direct.map((x) => x.p50)))} / baton ${f(median(rate.baton.map((x) => x.p50)))} / haproxy ${f(median(rate.haproxy.map((x) => x.p50)))} ms, p90 direct ${f(median(rate.direct.map((x) => x.p90)))} / baton ${f(median(rate.baton.map((x) => x.p90)))} / haproxy ${f(median(rate.haproxy.map((x) => x.p90)))} ms; errors ${['direct', 'baton', 'haproxy'].map((k) => rate[k].reduce((a, x) => a + x.errors, 0)).join('/')}`,
  `  added p99 (median of rounds): baton ${f(median(added.baton))} ms (per round ${added.baton.map(f).join(' / ')}); haproxy ${f(median(added.haproxy))} ms (per round ${added.haproxy.map(f).join(' / ')})`,
];
if (RATE === 0) out.length = 4;
for (const l of out) process.stdout.write(`${l}\n`);
await cleanup();
