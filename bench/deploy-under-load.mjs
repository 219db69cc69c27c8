#!/usr/bin/env node
// Benchmark: latency in steady state and during deploys, and the switch time of the embedded proxy.
// Usage: npm run bench:deploy [-- --deploys 10 --rps 400]
// Prints requests, failed, p50/p99 (steady vs during deploys), and per switch:
//  - probe→first request: from a new instance's first passing probe to the first request it serves
//  - drain→last request: from the moment an old instance starts draining to the last new request it got
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { percentile, startLoad } from '../dist/testing/load.js';
import { deployStream, freePort, root, sleep, startBaton } from '../scripts/lib/local-baton.mjs';

const { values: args } = parseArgs({
  options: {
    deploys: { type: 'string', default: '10' },
    rps: { type: 'string', default: '400' },
    steady: { type: 'string', default: '5' },
  },
});
const DEPLOYS = Number(args.deploys);
const RPS = Number(args.rps);
const STEADY_S = Number(args.steady);

const baton = await startBaton('baton-bench-', { stderr: 'ignore' });
const api = baton.url;
const token = baton.token;
const port = await freePort();

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

/** Deploys through the API, timestamping each event as it arrives (same clock as the load generator). */
function deploy(version, onEvent) {
  return deployStream({ url: api, token, service: 'hello', spec: spec(version), actor: 'bench' }, onEvent);
}

const responses = [];
await deploy('v0', () => {});
const load = startLoad(`http://127.0.0.1:${port}`, {
  rps: RPS,
  path: '/version',
  onResponse: (r) => responses.push(r),
});
const windows = [];
const pidOf = new Map(); // instance -> pid
const passAt = new Map(); // instance -> first passing probe time
const drainAt = new Map(); // instance -> drain begin time
await sleep(STEADY_S * 1000);
for (let i = 0; i < DEPLOYS; i++) {
  const start = performance.now();
  await deploy(i % 2 ? 'v2' : 'v1', (e, t) => {
    if (e.type === 'instance') {
      const m = /pid (\d+)/.exec(e.message);
      if (m) pidOf.set(e.instance, Number(m[1]));
    }
    if (e.type === 'probe' && e.result.ok && !passAt.has(e.instance)) passAt.set(e.instance, t);
    if (e.type === 'step' && e.op === 'drain' && e.phase === 'begin')
      for (const id of /drain: (.*)$/.exec(e.message)[1].split(', ')) drainAt.set(id, t);
  });
  windows.push([start, performance.now()]);
  await sleep(1000);
}
const report = await load.stop();

// Map pid -> instance for the instances seen in the events; the v0 ones are only drained.
const instanceByPid = new Map([...pidOf].map(([id, pid]) => [pid, id]));
const firstServed = new Map();
const lastServed = new Map();
const steady = [];
const during = [];
for (const r of responses) {
  const inDeploy = windows.some(([a, b]) => r.sentAt >= a && r.sentAt <= b);
  (inDeploy ? during : steady).push(r.doneAt - r.sentAt);
  if (r.status !== 200) continue;
  const { pid } = JSON.parse(r.body);
  const id = instanceByPid.get(pid);
  if (id && (!firstServed.has(id) || r.sentAt < firstServed.get(id))) firstServed.set(id, r.sentAt);
  // For old instances, only pids we know matter; v0's come from the initial deploy's events (not captured).
  if (id) lastServed.set(id, Math.max(lastServed.get(id) ?? 0, r.sentAt));
}
const toFirst = [...passAt].filter(([id]) => firstServed.has(id)).map(([id, t]) => firstServed.get(id) - t);
const drainToLast = [...drainAt]
  .filter(([id]) => lastServed.has(id))
  .map(([id, t]) => lastServed.get(id) - t);
const f = (n) => `${n.toFixed(2)} ms`;
const lines = [
  `deploys: ${DEPLOYS} (rolling, 2 replicas, maxSurge 1) under ${RPS} requests/s on /version, half keep-alive, half new connections`,
  `requests: ${report.sent}, failed: ${report.failed}`,
  `latency steady:        p50 ${f(percentile(steady, 50))}  p99 ${f(percentile(steady, 99))}  (${steady.length} requests)`,
  `latency during deploy: p50 ${f(percentile(during, 50))}  p99 ${f(percentile(during, 99))}  (${during.length} requests)`,
  `p99 ratio during/steady: ${(percentile(during, 99) / percentile(steady, 99)).toFixed(2)}x`,
  `switch: first passing probe -> first request served: p50 ${f(percentile(toFirst, 50))}  max ${f(Math.max(...toFirst))}  (${toFirst.length} instances)`,
  `drain: drain begins -> last new request sent to the old instance: max ${f(Math.max(...drainToLast))}  (${drainToLast.length} instances; <= 0 means none after the drain)`,
];
for (const l of lines) process.stdout.write(`${l}\n`);

await baton.stop();
process.exitCode = report.failed === 0 ? 0 : 1;
