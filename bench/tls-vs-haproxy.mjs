#!/usr/bin/env node
// Benchmark: TLS termination in Baton's embedded proxy and in HAProxy, same certificate (P-256, made
// here with openssl), same two keep-alive backends, same load generators, in one run, alternating:
//   - full handshakes/s: wrk with `Connection: close` (wrk makes a new TLS session per connection);
//   - keep-alive requests/s over TLS, p50/p99 at saturation (wrk);
//   - added p99 at a fixed rate (default 1,000 req/s) over keep-alive TLS, vs the backend in clear: a
//     small Node generator (undici, 8 connections) at the same instants to both proxies.
// Needs: `npm run build`, haproxy, wrk, openssl. Usage: node bench/tls-vs-haproxy.mjs [--seconds 5]
//        [--rounds 3] [--connections 32] [--workers N] [--rate 1000] [--rate-seconds 10]
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { Agent, request } from 'undici';
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
for (const bin of ['haproxy', 'wrk', 'openssl'])
  if (spawnSync('sh', ['-c', `command -v ${bin}`]).status !== 0) {
    process.stderr.write(`bench: missing ${bin} (apt-get install ${bin})\n`);
    process.exit(2);
  }
const dir = mkdtempSync(join(tmpdir(), 'baton-bench-tls-'));
const HOST = 'bench.test';
const cert = join(dir, 'cert.pem');
const key = join(dir, 'key.pem');
spawnSync('openssl', [
  'req',
  '-x509',
  '-newkey',
  'ec',
  '-pkeyopt',
  'ec_paramgen_curve:prime256v1',
  '-nodes',
  '-keyout',
  key,
  '-out',
  cert,
  '-days',
  '1',
  '-subj',
  `/CN=${HOST}`,
  '-addext',
  `subjectAltName=DNS:${HOST}`,
]);
writeFileSync(join(dir, 'combined.pem'), readFileSync(cert, 'utf8') + readFileSync(key, 'utf8'));

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const freePort = () =>
  new Promise((res) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
  });

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
await ensureProxy(join(dir, 'data'), { workers: WORKERS });
const router = new ProxyRouter({ dataDir: join(dir, 'data') });
await router.ensureRoute({
  service: 'bench',
  listen: `127.0.0.1:${proxyPort}`,
  drainTimeoutMs: 1000,
  hosts: [HOST],
  tls: [{ cert, key }],
});
await router.addBackends(
  'bench',
  ports.map((p, i) => ({ id: `b${i}`, address: `127.0.0.1:${p}`, revision: 1 })),
);

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
  bind 127.0.0.1:${haproxyPort} ssl crt ${join(dir, 'combined.pem')} alpn http/1.1
  default_backend be
backend be
  balance roundrobin
${ports.map((p, i) => `  server b${i} 127.0.0.1:${p}`).join('\n')}
`,
);
const haproxy = spawn('haproxy', ['-db', '-f', cfg], { stdio: ['ignore', 'ignore', 'pipe'] });
const targets = { baton: proxyPort, haproxy: haproxyPort };
const tlsAgent = () =>
  new Agent({ connections: 8, connect: { servername: HOST, rejectUnauthorized: false } });
const probe = tlsAgent();
for (let i = 0; i < 100; i++) {
  const ok = await Promise.all(
    Object.values(targets).map((p) =>
      request(`https://127.0.0.1:${p}/`, { dispatcher: probe, headers: { host: HOST } }).then(
        async (r) => (await r.body.text()) === 'ok\n',
        () => false,
      ),
    ),
  );
  if (ok.every(Boolean)) break;
  await sleep(100);
}
await probe.close();

function wrk(name, close) {
  const r = spawnSync(
    'wrk',
    [
      '-t1',
      `-c${CONNECTIONS}`,
      `-d${SECONDS}s`,
      '--latency',
      '-H',
      `Host: ${HOST}`,
      ...(close ? ['-H', 'Connection: close'] : []),
      `https://127.0.0.1:${targets[name]}/`,
    ],
    { encoding: 'utf8' },
  );
  const ms = (label) => {
    const m = new RegExp(`${label}%\\s+([\\d.]+)(us|ms|s)`).exec(r.stdout);
    return m ? Number(m[1]) * (m[2] === 'us' ? 0.001 : m[2] === 's' ? 1000 : 1) : Number.NaN;
  };
  const errors = /Socket errors: (.*)/.exec(r.stdout)?.[1] ?? 'none';
  return {
    rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(r.stdout)?.[1]),
    p50: ms(' 50'),
    p99: ms(' 99'),
    errors,
  };
}

/** RATE req/s at the same instants to each url (keep-alive), for RATE_SECONDS: p99 per url, ms. */
async function fixedRate(urls) {
  const agents = urls.map((u) => (u.startsWith('https') ? tlsAgent() : new Agent({ connections: 8 })));
  const lat = urls.map(() => []);
  let errors = 0;
  const start = performance.now() + 1000;
  const total = RATE * RATE_SECONDS;
  const pending = [];
  for (let i = 0; i < total; i++) {
    const due = start + (i * 1000) / RATE;
    const wait = due - performance.now();
    if (wait > 1) await sleep(wait);
    urls.forEach((u, k) => {
      pending.push(
        request(u, { dispatcher: agents[k], headers: { host: HOST } }).then(
          async (r) => {
            await r.body.text();
            lat[k].push(performance.now() - due);
          },
          () => errors++,
        ),
      );
    });
  }
  await Promise.all(pending);
  await Promise.all(agents.map((a) => a.close()));
  const p99 = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length * 0.99)];
  return { p99: lat.map(p99), errors };
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

const res = { handshake: { baton: [], haproxy: [] }, keepAlive: { baton: [], haproxy: [] } };
for (let i = 0; i < ROUNDS; i++)
  for (const name of ['baton', 'haproxy']) {
    res.handshake[name].push(wrk(name, true));
    res.keepAlive[name].push(wrk(name, false));
  }
const added = { baton: [], haproxy: [] };
for (let i = 0; i < (RATE > 0 ? ROUNDS : 0); i++) {
  const r = await fixedRate([
    `http://127.0.0.1:${ports[i % 2]}/`,
    `https://127.0.0.1:${targets.baton}/`,
    `https://127.0.0.1:${targets.haproxy}/`,
  ]);
  added.baton.push(r.p99[1] - r.p99[0]);
  added.haproxy.push(r.p99[2] - r.p99[0]);
}
const mean = (xs, k) => xs.reduce((a, x) => a + x[k], 0) / xs.length;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const f = (n) => n.toFixed(2);
const out = [
  `wrk -t1 -c${CONNECTIONS} -d${SECONDS}s over TLS (P-256, TLS 1.3), ${ROUNDS} alternating rounds, baton proxy with ${WORKERS} workers, ${availableParallelism()} cores`,
];
for (const kind of ['handshake', 'keepAlive']) {
  const label =
    kind === 'handshake'
      ? 'new TLS connection per request (full handshakes/s)'
      : 'keep-alive requests/s over TLS';
  out.push(`${label}:`);
  for (const name of ['baton', 'haproxy'])
    out.push(
      `  ${name.padEnd(8)} ${mean(res[kind][name], 'rps').toFixed(0)}/s, p50 ${f(mean(res[kind][name], 'p50'))} ms, p99 ${f(mean(res[kind][name], 'p99'))} ms; per round ${res[kind][name].map((x) => x.rps.toFixed(0)).join(' / ')}; socket errors ${res[kind][name].map((x) => x.errors).join(' | ')}`,
    );
  out.push(
    `  ratio baton/haproxy ${(mean(res[kind].baton, 'rps') / mean(res[kind].haproxy, 'rps')).toFixed(2)}x`,
  );
}
if (RATE > 0)
  out.push(
    `added p99 at ${RATE} req/s keep-alive TLS vs the backend in clear (median of ${ROUNDS} rounds): baton ${f(median(added.baton))} ms (${added.baton.map(f).join(' / ')}), haproxy ${f(median(added.haproxy))} ms (${added.haproxy.map(f).join(' / ')})`,
  );
for (const l of out) process.stdout.write(`${l}\n`);
await cleanup();
