#!/usr/bin/env node
// Where the floor is: Baton's embedded proxy beside two minimal Node proxies and HAProxy, in one run, same
// two keep-alive Node backends, same number of cores, rounds alternating. The minimal proxies do nothing
// but forward (bench/floor/): `node-http-undici` is Baton's own architecture with none of its features
// (node:http server, one undici Client per client connection); `llhttp-raw` is plain sockets with node's
// llhttp binding on both sides (an internal API: the cost of Node's HTTP objects, measured, not a design).
// What Baton costs beyond the first is its features; what the first costs beyond the second is node:http
// and undici; the second against HAProxy is Node itself. Also prints each worker's share of the CPU:
// Baton's workers share the listening socket (the kernel picks who accepts), the minimal proxies use
// Node's round-robin hand-off from the primary.
// Needs: `npm run build`, wrk, haproxy, openssl (Baton and HAProxy also open their TLS listener, unused).
// Usage: node bench/proxy-floor.mjs [--seconds 4] [--rounds 3] [--connections 32] [--workers 2]
//        [--rows small,newconn] [--only baton,node-http-undici,llhttp-raw,haproxy]
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchArgs } from './lib/args.mjs';
import { startBackends } from './lib/backends.mjs';
import { selfSigned } from './lib/certs.mjs';
import {
  cleanupOf,
  cpuSeconds,
  ensureBinaries,
  freePort,
  installHint,
  processTree,
  waitUntil,
} from './lib/procs.mjs';
import { startBaton, startHaproxy } from './lib/proxies.mjs';

const args = benchArgs(import.meta.url, 'bench', {
  seconds: { type: 'string', default: '4' },
  rounds: { type: 'string', default: '3' },
  connections: { type: 'string', default: '32' },
  workers: { type: 'string', default: '2' },
  rows: { type: 'string', default: 'small,newconn' },
  only: { type: 'string', default: 'baton,node-http-undici,llhttp-raw,haproxy' },
});
const SECONDS = Number(args.seconds);
const ROUNDS = Number(args.rounds);
const WORKERS = Number(args.workers);
const ROWS = args.rows.split(',');
const missing = ensureBinaries([
  ['wrk', 'wrk'],
  ['haproxy', 'haproxy'],
  ['openssl', 'openssl'],
]);
if (missing.length > 0) {
  process.stderr.write(`bench: missing ${missing.map(([b]) => b).join(', ')} (${installHint(missing)})\n`);
  process.exit(2);
}

const dir = mkdtempSync(join(tmpdir(), 'baton-floor-'));
const backends = await startBackends();
const ports = backends.ports;

/** A minimal proxy of bench/floor/ in its own process tree. */
async function startFloor(name) {
  const port = await freePort();
  const script = fileURLToPath(new URL(`./floor/${name}.mjs`, import.meta.url));
  const p = spawn(process.execPath, [script, String(port), ports.join(',')], {
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, FLOOR_WORKERS: String(WORKERS) },
  });
  const ok = () =>
    fetch(`http://127.0.0.1:${port}/`).then(
      async (r) => (await r.text()) === 'ok\n',
      () => false,
    );
  await waitUntil(ok, () => p.exitCode === null, name);
  return { name, plain: port, pids: () => processTree(p.pid), stop: async () => p.kill('SIGTERM') };
}

const proxies = [];
const cleanup = cleanupOf(proxies, backends, dir);
const certs = selfSigned(dir, 'bench', ['bench.test'], { combined: true });
const common = { dir, ports, cores: WORKERS, certs, host: 'bench.test' };
for (const name of args.only.split(',')) {
  if (name === 'baton') proxies.push(await startBaton(common));
  else if (name === 'haproxy') proxies.push(await startHaproxy({ ...common, reuse: 'safe' }));
  else proxies.push(await startFloor(name));
}

function measure(proxy, row, seconds = SECONDS) {
  const pids = proxy.pids();
  const before = pids.map((p) => cpuSeconds([p]));
  const r = spawnSync(
    'wrk',
    [
      '-t1',
      `-c${args.connections}`,
      `-d${seconds}s`,
      '--latency',
      ...(row === 'newconn' ? ['-H', 'Connection: close'] : []),
      `http://127.0.0.1:${proxy.plain}/`,
    ],
    { encoding: 'utf8' },
  );
  const used = pids.map((p, i) => cpuSeconds([p]) - before[i]);
  const cpu = used.reduce((a, b) => a + b, 0);
  const total = Number(/(\d+) requests in/.exec(r.stdout)?.[1]);
  const p99 = /\s99%\s+([\d.]+)(us|ms|s)/.exec(r.stdout);
  return {
    rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(r.stdout)?.[1]),
    cpuUs: (cpu * 1e6) / total,
    p99: p99 ? Number(p99[1]) * (p99[2] === 'us' ? 0.001 : p99[2] === 's' ? 1000 : 1) : Number.NaN,
    // Shares of the busiest processes (workers; the primary uses next to nothing).
    split: used
      .filter((u) => u > 0.02 * cpu)
      .map((u) => `${Math.round((100 * u) / cpu)}%`)
      .join('/'),
  };
}

process.stdout.write(
  `${ROUNDS} alternating rounds of ${SECONDS} s, wrk -t1 -c${args.connections}, ${WORKERS} workers/threads each, load average ${loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')}\n`,
);
for (const row of ROWS) for (const p of proxies) measure(p, row, 1);
const results = Object.fromEntries(
  ROWS.map((row) => [row, Object.fromEntries(proxies.map((p) => [p.name, []]))]),
);
for (let round = 0; round < ROUNDS; round++) {
  const order = proxies.map((_, i) => proxies[(i + round) % proxies.length]);
  for (const row of ROWS) for (const p of order) results[row][p.name].push(measure(p, row));
}
const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
for (const row of ROWS) {
  process.stdout.write(
    `${row === 'small' ? 'small responses, keep-alive' : 'a new connection per request'}:\n`,
  );
  const ref = results[row].haproxy ? mean(results[row].haproxy.map((m) => m.rps)) : Number.NaN;
  const refCpu = results[row].haproxy ? mean(results[row].haproxy.map((m) => m.cpuUs)) : Number.NaN;
  for (const p of proxies) {
    const ms = results[row][p.name];
    const rps = mean(ms.map((m) => m.rps));
    const cpu = mean(ms.map((m) => m.cpuUs));
    process.stdout.write(
      `  ${p.name.padEnd(17)} ${rps.toFixed(0).padStart(6)} req/s (${(rps / ref).toFixed(2)}x), CPU ${cpu.toFixed(1)} µs/req (${(cpu / refCpu).toFixed(2)}x), p99 ${mean(ms.map((m) => m.p99)).toFixed(2)} ms; rounds ${ms.map((m) => `${m.rps.toFixed(0)} req/s ${m.cpuUs.toFixed(0)} µs [${m.split}]`).join(', ')}\n`,
    );
  }
}
await cleanup();
