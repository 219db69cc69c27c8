#!/usr/bin/env node
// Benchmark: Baton's embedded proxy and HAProxy in front of the same two backends, same load generator,
// in one run, alternating. Prints requests/s and p50/p99 at full load (wrk), the p99 each adds at a fixed
// 1,000 requests/s (against the backends directly), and the ratios.
// Needs: `npm run build`, haproxy and wrk (Debian: apt-get install haproxy wrk).
// Usage: node bench/proxy-vs-haproxy.mjs [--seconds 5] [--rounds 2] [--connections 32]
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ProxyRouter } from '../dist/router/proxy/client.js';
import { ensureProxy, stopProxy } from '../dist/router/proxy/launch.js';
import { percentile, startLoad } from '../dist/testing/load.js';

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '5' },
    rounds: { type: 'string', default: '2' },
    connections: { type: 'string', default: '32' },
  },
});
const SECONDS = Number(args.seconds);
const ROUNDS = Number(args.rounds);
const CONNECTIONS = Number(args.connections);
for (const bin of ['haproxy', 'wrk']) {
  if (spawnSync('sh', ['-c', `command -v ${bin}`]).status !== 0) {
    process.stderr.write(`bench: ${bin} is missing (apt-get install haproxy wrk)\n`);
    process.exit(2);
  }
}
const dir = mkdtempSync(join(tmpdir(), 'baton-bench-proxy-'));
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

// Baton's embedded proxy, as `baton serve` runs it: its own process, driven over the admin socket.
const proxyPort = await freePort();
await ensureProxy(join(dir, 'data'));
const router = new ProxyRouter({ dataDir: join(dir, 'data') });
await router.ensureRoute({ service: 'bench', listen: `127.0.0.1:${proxyPort}`, drainTimeoutMs: 1000 });
await router.addBackends(
  'bench',
  ports.map((p, i) => ({ id: `b${i}`, address: `127.0.0.1:${p}`, revision: 1 })),
);

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

const targets = { baton: `http://127.0.0.1:${proxyPort}/`, haproxy: `http://127.0.0.1:${haproxyPort}/` };

/** wrk at full load: requests/s and latency percentiles. */
function wrk(url) {
  const r = spawnSync('wrk', ['-t1', `-c${CONNECTIONS}`, `-d${SECONDS}s`, '--latency', url], {
    encoding: 'utf8',
  });
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(r.stdout)?.[1]);
  const ms = (label) => {
    const m = new RegExp(`${label}%\\s+([\\d.]+)(us|ms|s)`).exec(r.stdout);
    if (!m) return Number.NaN;
    return Number(m[1]) * (m[2] === 'us' ? 0.001 : m[2] === 's' ? 1000 : 1);
  };
  const errors = /Non-2xx or 3xx responses: (\d+)/.exec(r.stdout)?.[1] ?? '0';
  return { rps, p50: ms(' 50'), p99: ms(' 99'), errors: Number(errors) };
}

/** p99 at a fixed rate with the same Node client, so added latency can be read against the backend. */
async function fixedRate(url, rps = 1000) {
  const load = startLoad(url, { rps, connections: 'keep-alive' });
  await sleep(SECONDS * 1000);
  const r = await load.stop();
  return { p50: percentile(r.latenciesMs, 50), p99: percentile(r.latenciesMs, 99), failed: r.failed };
}

const full = { baton: [], haproxy: [] };
for (let i = 0; i < ROUNDS; i++) {
  for (const name of ['baton', 'haproxy']) full[name].push(wrk(targets[name]));
}
// Alternate the fixed-rate runs too, and keep the median of three, so one noisy second does not decide.
const runs = { direct: [], baton: [], haproxy: [] };
for (let i = 0; i < 3; i++) {
  runs.direct.push(await fixedRate(`http://127.0.0.1:${ports[0]}/`));
  runs.baton.push(await fixedRate(targets.baton));
  runs.haproxy.push(await fixedRate(targets.haproxy));
}
const median = (xs) => [...xs].sort((a, b) => a.p99 - b.p99)[1];
const direct = median(runs.direct);
const rate = { baton: median(runs.baton), haproxy: median(runs.haproxy) };

const mean = (xs, k) => xs.reduce((a, x) => a + x[k], 0) / xs.length;
const f = (n) => n.toFixed(2);
const out = [
  `wrk -t1 -c${CONNECTIONS} -d${SECONDS}s, ${ROUNDS} alternating rounds each, 2 keep-alive backends, ${process.arch} ${spawnSync('nproc').stdout.toString().trim()} cores`,
  `baton proxy: ${mean(full.baton, 'rps').toFixed(0)} req/s, p50 ${f(mean(full.baton, 'p50'))} ms, p99 ${f(mean(full.baton, 'p99'))} ms, non-2xx ${full.baton.reduce((a, x) => a + x.errors, 0)}`,
  `haproxy:     ${mean(full.haproxy, 'rps').toFixed(0)} req/s, p50 ${f(mean(full.haproxy, 'p50'))} ms, p99 ${f(mean(full.haproxy, 'p99'))} ms, non-2xx ${full.haproxy.reduce((a, x) => a + x.errors, 0)}`,
  `ratio baton/haproxy: ${(mean(full.baton, 'rps') / mean(full.haproxy, 'rps')).toFixed(2)}x requests/s`,
  `at 1,000 req/s (Node client, keep-alive): direct p99 ${f(direct.p99)} ms; baton p99 ${f(rate.baton.p99)} ms (adds ${f(rate.baton.p99 - direct.p99)}); haproxy p99 ${f(rate.haproxy.p99)} ms (adds ${f(rate.haproxy.p99 - direct.p99)}); failed ${direct.failed}/${rate.baton.failed}/${rate.haproxy.failed}`,
];
for (const l of out) process.stdout.write(`${l}\n`);

haproxy.kill('SIGTERM');
backend.kill('SIGTERM');
await stopProxy(join(dir, 'data'));
rmSync(dir, { recursive: true, force: true });
