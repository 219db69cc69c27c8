#!/usr/bin/env node
// Benchmark: cluster mode — time from a desired-state write in NATS KV to every agent converged, and
// agent memory. Usage: npm run build && node bench/cluster-converge.mjs [--agents 3,10,30] [--rounds 3]
// For each agent count: one nats-server (JetStream) and N `baton agent` processes on this host, each with
// its own data dir, proxy and one examples/hello instance. A round is one KV write (deployToCluster, as
// `baton deploy --cluster` does) of a new revision; no update governor, so every agent updates at once.
//  - pickup: from the write to each agent's `desired` event (the KV watch push)
//  - converged: from the write to the last agent's new instance healthy, registered, the old one gone
//  - RSS of the agent processes (not their proxy or instances): idle, and the peak during the rounds
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { deployToCluster } from '../dist/agent/deploy.js';
import { NodeStatusBucket } from '../dist/agent/node-status.js';
import { serviceSchema } from '../dist/spec/schema.js';
import { connectNats } from '../dist/store/nats/connect.js';
import { NatsStore } from '../dist/store/nats/nats-store.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const CLI = join(root, 'dist', 'cli', 'main.js');
const NATS = ['/usr/sbin/nats-server', '/usr/bin/nats-server'].find((p) => existsSync(p));
if (!NATS) throw new Error('nats-server is missing (apt-get install -y nats-server)');

const { values: args } = parseArgs({
  options: { agents: { type: 'string', default: '3,10,30' }, rounds: { type: 'string', default: '3' } },
});
const COUNTS = args.agents.split(',').map(Number);
const ROUNDS = Number(args.rounds);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const freePort = () =>
  new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
  });
async function until(cond, ms, what) {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await cond();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await sleep(20);
  }
}
const rssKb = (pid) => {
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]);
  } catch {
    return 0;
  }
};
const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};

async function startNats(dir) {
  writeFileSync(
    join(dir, 'nats.conf'),
    `listen: 127.0.0.1:-1\njetstream { store_dir: "${join(dir, 'js')}" }\nports_file_dir: "${dir}"\n`,
  );
  const child = spawn(NATS, ['-c', join(dir, 'nats.conf')], { stdio: 'ignore' });
  const url = await until(
    () => {
      const f = readdirSync(dir).find((x) => x.endsWith('.ports'));
      return f && JSON.parse(readFileSync(join(dir, f), 'utf8')).nats?.[0];
    },
    10_000,
    'nats-server ports file',
  );
  return { child, url };
}

function events(dataDir) {
  const f = join(dataDir, 'agent', 'events.jsonl');
  if (!existsSync(f)) return [];
  return readFileSync(f, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));
}

function killInstances(dataDir) {
  const dir = join(dataDir, 'instances');
  if (existsSync(dir))
    for (const f of readdirSync(dir).filter((x) => x.endsWith('.json'))) {
      try {
        process.kill(-JSON.parse(readFileSync(join(dir, f), 'utf8')).pid, 'SIGKILL');
      } catch {}
    }
  try {
    process.kill(Number(readFileSync(join(dataDir, 'proxy', 'proxy.pid'), 'utf8')), 'SIGKILL');
  } catch {}
}

const spec = (version) =>
  serviceSchema.parse({
    runtime: 'process',
    command: process.execPath,
    args: ['server.js'],
    cwd: join(root, 'examples', 'hello'),
    env: { VERSION: version },
    replicas: 1,
    probe: { http: { path: '/health' }, interval: '200ms', timeout: '1s', startTimeout: '60s' },
    traffic: { listen: '127.0.0.1:10000', drainTimeout: '2s' },
    stopTimeout: '5s',
  });

async function run(n) {
  const dir = mkdtempSync(join(tmpdir(), 'baton-bench-cluster-'));
  const nats = await startNats(dir);
  const agents = [];
  try {
    for (let i = 0; i < n; i++) {
      const dataDir = join(dir, `n${i}`);
      const port = await freePort();
      const child = spawn(
        process.execPath,
        [
          CLI,
          '--data-dir',
          dataDir,
          'agent',
          '--nats',
          nats.url,
          '--node',
          `n${i}`,
          '--ttl',
          '20s',
          '--listen-offset',
          String(port - 10_000),
        ],
        { env: { ...process.env, BATON_LOG_LEVEL: 'warn', BATON_PROXY_WORKERS: '0' }, stdio: 'ignore' },
      );
      agents.push({ dataDir, child });
    }
    const nc = await connectNats({ servers: nats.url });
    const store = await NatsStore.open(nc, { replicas: 1 });
    // Every agent is up (it published its node status) before the first write.
    const nodes = await NodeStatusBucket.open(nc, { ttlMs: 20_000, replicas: 1 });
    const t = Date.now();
    await until(async () => (await nodes.list()).length === n, 300_000, `${n} agents up`);
    console.error(`${n} agents up in ${Date.now() - t} ms`);
    const rows = [];
    let peak = 0;
    let idle = [];
    for (let round = 0; round <= ROUNDS; round++) {
      const version = `v${round + 1}`;
      const t0 = Date.now();
      const r = await deployToCluster(nc, store, {
        service: 'hello',
        spec: spec(version),
        actor: 'bench',
        replicas: 1,
      });
      const sampler = setInterval(() => {
        for (const a of agents) peak = Math.max(peak, rssKb(a.child.pid));
      }, 100);
      const done = (e) =>
        e.revision === r.revision && ((e.type === 'started' && e.healthy) || e.type === 'update.end');
      const all = await until(
        () => {
          const per = agents.map((a) => events(a.dataDir));
          return per.every((es) => es.some(done)) ? per : undefined;
        },
        300_000,
        `${n} agents converge on r${r.revision}`,
      );
      clearInterval(sampler);
      const pickups = all.map(
        (es) => es.find((e) => e.type === 'desired' && e.revision === r.revision).ms - t0,
      );
      const converged = Math.max(...all.map((es) => es.find(done).ms)) - t0;
      // Round 0 starts the agents' first instances (and their proxies): reported apart.
      rows.push({
        round,
        kind: round === 0 ? 'first start' : 'update',
        pickupP50: pct(pickups, 50),
        pickupMax: Math.max(...pickups),
        converged,
      });
      if (round === 0) {
        await sleep(2000);
        idle = agents.map((a) => rssKb(a.child.pid));
        peak = 0;
      }
    }
    await nc.close();
    const updates = rows.filter((x) => x.kind === 'update');
    console.log(
      JSON.stringify({
        agents: n,
        rounds: rows,
        updatePickupP50Ms: pct(
          updates.map((x) => x.pickupP50),
          50,
        ),
        updatePickupMaxMs: Math.max(...updates.map((x) => x.pickupMax)),
        updateConvergedMedianMs: pct(
          updates.map((x) => x.converged),
          50,
        ),
        agentRssIdleMbMedian: +(pct(idle, 50) / 1024).toFixed(1),
        agentRssPeakDuringRolloutMb: +(peak / 1024).toFixed(1),
      }),
    );
  } finally {
    for (const a of agents) a.child.kill('SIGKILL');
    for (const a of agents) killInstances(a.dataDir);
    nats.child.kill('SIGTERM');
    await sleep(500);
    rmSync(dir, { recursive: true, force: true });
  }
}

for (const n of COUNTS) await run(n);
