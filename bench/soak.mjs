#!/usr/bin/env node
// Soak: many rolling deploys under steady mixed load, and every failed request explained.
//
//   npm run bench:soak -- [--deploys 1000] [--rps 700] [--min-requests 0] [--router proxy|haproxy]
//                         [--runtime process|docker] [--apps hello,python] [--copies 1] [--idle-clients 24]
//                         [--keep-alive-timeout 120s] [--json]
//
// Services (2 replicas each, rolling maxSurge 1 / maxUnavailable 0, versions alternating): `hello`
// (examples/hello: Node, keep-alive, /slow and /ws) and `python` (`python3 -m http.server`: HTTP/1.0,
// closes every connection). Each service is deployed in its own loop, back to back, until --deploys in all
// are done and at least --min-requests were sent. Load (bench/soak-load.mjs): Node http.Agent keep-alive
// (maxSockets 64), undici keep-alive, new connections, 2 s requests, idle keep-alive clients reusing their
// socket after 5–6.5 s idle, WebSocket sessions. The embedded proxy runs with BATON_PROXY_DEBUG_HEADER=1 so a
// failure names the proxy worker that held the socket. `--router haproxy` starts a real HAProxy (master-
// worker, admin socket); `--runtime docker` runs examples/hello as a container built locally (hello only).
// Prints requests, failures and each failure's record (time, kind, socket reused, worker, deploy step).
// Exit code 0 when nothing failed, 1 otherwise.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { deployStream, freePort, root, sleep, startBaton } from '../scripts/lib/local-baton.mjs';
import { watchAcceptQueues } from './accept-queue.mjs';
import { benchArgs } from './lib/args.mjs';
import { startSoakLoad } from './soak-load.mjs';

const args = benchArgs(import.meta.url, 'soak', {
  deploys: { type: 'string', default: '1000' },
  rps: { type: 'string', default: '700' },
  'min-requests': { type: 'string', default: '0' },
  router: { type: 'string', default: 'proxy' },
  runtime: { type: 'string', default: 'process' },
  apps: { type: 'string' },
  copies: { type: 'string', default: '1' },
  'idle-clients': { type: 'string', default: '24' },
  'keep-alive-timeout': { type: 'string' },
  json: { type: 'boolean', default: false },
});
const DEPLOYS = Number(args.deploys);
const RPS = Number(args.rps);
const MIN_REQUESTS = Number(args['min-requests']);
const ROUTER = args.router;
const RUNTIME = args.runtime;
const APPS = (args.apps ?? (RUNTIME === 'docker' ? 'hello' : 'hello,python')).split(',');
const bad = (m) => {
  process.stderr.write(`soak: ${m}\n`);
  process.exit(2);
};
if (!(DEPLOYS >= 1)) bad('--deploys must be a number >= 1');
if (!(RPS > 0)) bad('--rps must be a number > 0');
if (!['proxy', 'haproxy'].includes(ROUTER)) bad('--router must be proxy or haproxy');
if (!['process', 'docker'].includes(RUNTIME)) bad('--runtime must be process or docker');
if (APPS.some((a) => !['hello', 'python'].includes(a))) bad('--apps: hello and/or python');
const COPIES = Number(args.copies);
if (!(COPIES >= 1 && Number.isInteger(COPIES))) bad('--copies must be a whole number >= 1');
// Each app as --copies services (hello, hello-2, ...): more deploys run side by side.
const SERVICES = APPS.flatMap((kind) =>
  Array.from({ length: COPIES }, (_, i) => (i ? `${kind}-${i + 1}` : kind)),
);
const kindOf = (service) => service.replace(/-\d+$/, '');
if (RUNTIME === 'docker' && APPS.includes('python'))
  bad('--runtime docker runs hello only (no image pulls: the hello image is built locally)');

const say = (s) => process.stderr.write(`soak: ${s}\n`);
const cleanups = [];
let cleaning;
const cleanup = () => {
  cleaning ??= (async () => {
    for (const c of cleanups.reverse()) await c().catch(() => {});
  })();
  return cleaning;
};
// First SIGINT/SIGTERM once the load runs: no new deploy, then the report as usual (a long run can be cut
// short and still be recorded). Before that, or a second time: stop everything and exit.
let stopRequested = false;
let running = false;
for (const [sig, code] of [
  ['SIGINT', 130],
  ['SIGTERM', 143],
])
  process.on(sig, () => {
    if (running && !stopRequested) {
      stopRequested = true;
      say(`${sig}: no new deploy; the report follows once the deploys under way end (again: stop now)`);
      return;
    }
    void cleanup().then(() => process.exit(code));
  });
// A bug here must not leave the control plane, the proxy and the instances running.
process.on('uncaughtException', (e) => {
  process.stderr.write(`soak: crashed: ${e.stack ?? e}\n`);
  void cleanup().then(() => process.exit(3));
});
process.on('unhandledRejection', (e) => {
  process.stderr.write(`soak: crashed: ${e?.stack ?? e}\n`);
  void cleanup().then(() => process.exit(3));
});

const work = mkdtempSync(join(tmpdir(), 'baton-soak-'));
cleanups.push(async () => rmSync(work, { recursive: true, force: true }));

// Ports of the services' listeners (the proxy's, or HAProxy's frontends).
const ports = Object.fromEntries(await Promise.all(SERVICES.map(async (a) => [a, await freePort()])));

let haproxy;
if (ROUTER === 'haproxy') haproxy = await startHaproxy();

let image;
if (RUNTIME === 'docker') {
  image = await helloImage();
  // Runs after the control plane stopped (cleanups run last first): its containers, found by owner label.
  cleanups.push(async () => {
    const { execFileSync } = await import('node:child_process');
    const ids = execFileSync('docker', ['ps', '-aq', '--filter', `label=baton.owner=${baton.dataDir}`], {
      encoding: 'utf8',
    }).trim();
    if (ids) execFileSync('docker', ['rm', '-f', ...ids.split('\n')], { stdio: 'ignore' });
  });
}

// The proxy names its worker on answers to requests that ask (never otherwise).
process.env.BATON_PROXY_DEBUG_HEADER = '1';
const baton = await startBaton('baton-soak-', { stderr: 'ignore' });
cleanups.push(() => baton.stop());
say(`control plane at ${baton.url} (data dir ${baton.dataDir})`);

// python3 -m http.server serves a directory: one per version, its index names the version.
for (const v of ['v0', 'v1', 'v2']) {
  mkdirSync(join(work, 'py', v), { recursive: true });
  writeFileSync(join(work, 'py', v, 'index.html'), `python ${v}\n`);
}

const probe = (path) => ({
  http: { path, status: 200 },
  interval: 250,
  timeout: 1000,
  healthyThreshold: 1,
  unhealthyThreshold: 3,
  startTimeout: 30_000,
});
const traffic = (app) => ({
  listen: `127.0.0.1:${ports[app]}`,
  drainTimeout: 10_000,
  // The proxy's client keep-alive timeout (traffic.keepAliveTimeout; HAProxy: timeout http-keep-alive).
  ...(args['keep-alive-timeout'] && ROUTER === 'proxy'
    ? { keepAliveTimeout: args['keep-alive-timeout'] }
    : {}),
  ...(haproxy ? { router: { kind: 'haproxy', sockets: [haproxy.socket], backend: app } } : {}),
});
const common = (app) => ({
  replicas: 2,
  traffic: traffic(app),
  strategy: { type: 'rolling', maxSurge: 1, maxUnavailable: 0 },
  stopTimeout: 5000,
});
function spec(app, version) {
  if (kindOf(app) === 'python')
    return {
      runtime: 'process',
      command: '/bin/sh',
      args: ['-c', 'exec python3 -m http.server --bind 127.0.0.1 "$PORT"'],
      cwd: join(work, 'py', version),
      env: { VERSION: version },
      probe: probe('/'),
      ...common(app),
    };
  if (RUNTIME === 'docker')
    return {
      runtime: 'docker',
      image: image.repo,
      tag: image.tag,
      port: 3000,
      env: { VERSION: version },
      probe: probe('/health'),
      ...common(app),
    };
  return {
    runtime: 'process',
    command: process.execPath,
    args: ['server.js'],
    cwd: join(root, 'examples', 'hello'),
    env: { VERSION: version },
    probe: probe('/health'),
    ...common(app),
  };
}

/** What each service's deploy is doing right now (from the API's event stream). */
const doing = new Map();
const t0 = performance.now();
function context() {
  const now = performance.now();
  return [...doing].map(([app, d]) => {
    if (!d.step) return `${app}: between deploys`;
    return `${app} deploy #${d.n} (${d.version}): ${d.step} (${Math.round(now - d.since)} ms ago)`;
  });
}

async function deploy(app, version, n) {
  const d = { n, version, step: 'requested', since: performance.now() };
  doing.set(app, d);
  const onEvent = (e, at) => {
    if (e.type !== 'step') return;
    d.step = `[${e.index}/${e.total}] ${e.op} ${e.phase}: ${e.message ?? ''}`.trim();
    d.since = at;
  };
  try {
    const target = {
      url: baton.url,
      token: baton.token,
      service: app,
      spec: spec(app, version),
      actor: 'soak',
    };
    await deployStream(target, onEvent);
  } catch (e) {
    throw new Error(`deploy #${n} of ${app} (${version}): ${e.message}`);
  } finally {
    doing.set(app, { n, version, step: undefined, since: performance.now() });
  }
}

const load0 = loadavg();
say(`first deploy of ${SERVICES.join(', ')} (router ${ROUTER}, runtime ${RUNTIME})`);
await Promise.all(SERVICES.map((a) => deploy(a, 'v0', 0)));

const targets = {};
for (const a of SERVICES)
  targets[a] =
    kindOf(a) === 'hello'
      ? { url: `http://127.0.0.1:${ports[a]}`, paths: ['/version', '/'], slow: true }
      : { url: `http://127.0.0.1:${ports[a]}`, paths: ['/'] };
// The proxy's (or HAProxy's) listeners: a full accept queue marks overload, not a lost request.
const acceptQueues = watchAcceptQueues(Object.fromEntries(SERVICES.map((a) => [a, ports[a]])), {
  now: () => performance.now() - t0,
});
const load = startSoakLoad({
  targets,
  rps: RPS,
  context,
  idleClients: Number(args['idle-clients']),
  // As they happen (a long run can be watched, or stopped early with its records on screen).
  onFailure: (f) => say(`failed: ${JSON.stringify(f)}`),
});
say(`load: ${RPS} req/s mixed, plus slow, idle keep-alive and WebSocket clients; ${DEPLOYS} deploys`);

let deploys = 0;
const deployFailures = [];
const enough = () => stopRequested || (deploys >= DEPLOYS && load.report.sent >= MIN_REQUESTS);
running = true;
const progress = setInterval(() => {
  const r = load.report;
  say(
    `${Math.round((performance.now() - t0) / 1000)} s: ${deploys} deploys, ${r.sent} requests, ${r.failed} failed, load ${loadavg()[0].toFixed(2)}`,
  );
}, 30_000);
await Promise.all(
  SERVICES.map(async (app) => {
    for (let n = 1; !enough(); n++) {
      try {
        await deploy(app, n % 2 ? 'v1' : 'v2', n);
      } catch (e) {
        deployFailures.push({ at: new Date().toISOString(), app, error: e.message });
        say(e.message);
        await sleep(1000);
      }
      deploys++;
    }
  }),
);
clearInterval(progress);
const report = await load.stop();
acceptQueues.stop();
const seconds = (performance.now() - t0) / 1000;
const load1 = loadavg();

const summary = {
  router: ROUTER,
  runtime: RUNTIME,
  apps: APPS,
  services: SERVICES,
  deploys,
  stoppedEarly: stopRequested,
  deployFailures: deployFailures.length,
  requests: report.sent,
  ok: report.ok,
  failed: report.failed,
  seconds: Math.round(seconds),
  rps: RPS,
  byKind: report.byKind,
  reusedAfterIdle: report.reusedAfterIdle,
  reusedAfterIdleMaxMs: report.reusedAfterIdleMaxMs,
  wsSessions: report.wsSessions,
  wsMessages: report.wsMessages,
  cpus: availableParallelism(),
  loadavg: { start: load0.map((x) => +x.toFixed(2)), end: load1.map((x) => +x.toFixed(2)) },
  // Per listener: the longest accept queue seen, and when (ms into the run) it passed 128.
  acceptQueues: acceptQueues.stats(),
  failures: report.failures,
  deployFailureRecords: deployFailures,
};
const out = (s) => process.stdout.write(`${s}\n`);
out(
  `soak: ${deploys} deploys (${deployFailures.length} failed) of ${SERVICES.join(' + ')} (${RUNTIME}, router ${ROUTER}) in ${summary.seconds} s`,
);
if (stopRequested) out(`(stopped early by a signal, after ${deploys} of ${DEPLOYS} deploys)`);
out(`requests: ${report.sent}, failed: ${report.failed}`);
for (const [k, s] of Object.entries(report.byKind))
  out(
    `  ${k.padEnd(6)} ${String(s.sent).padStart(9)} sent ${String(s.failed).padStart(5)} failed  ${s.reused} on a reused socket`,
  );
out(
  `idle keep-alive sockets reused after > 5 s idle: ${report.reusedAfterIdle} (longest idle ${report.reusedAfterIdleMaxMs} ms)`,
);
out(
  `machine: ${summary.cpus} CPUs, load average ${load0[0].toFixed(2)} at start, ${load1[0].toFixed(2)} at end`,
);
for (const [app, q] of Object.entries(summary.acceptQueues))
  out(
    `  accept queue of ${app}'s listener: longest ${q.max}${
      q.longAt.length
        ? `, over 128 at ${q.longAt
            .slice(0, 5)
            .map((t) => `${(t / 1000).toFixed(1)} s`)
            .join(', ')}${q.longAt.length > 5 ? ', ...' : ''}`
        : ''
    }`,
  );
for (const f of report.failures) out(`FAILED ${JSON.stringify(f)}`);
for (const f of deployFailures) out(`DEPLOY FAILED ${JSON.stringify(f)}`);
if (args.json) out(`SOAK_JSON ${JSON.stringify(summary)}`);
// The proxy's log goes with the temporary data dir: keep it when something failed.
if (report.failed > 0 || deployFailures.length > 0) {
  const { copyFileSync, existsSync } = await import('node:fs');
  const from = join(baton.dataDir, 'proxy', 'proxy.log');
  const to = join(tmpdir(), `baton-soak-proxy-${process.pid}.log`);
  if (existsSync(from)) {
    copyFileSync(from, to);
    out(`proxy log kept: ${to}`);
  }
}

await cleanup();
process.exit(report.failed === 0 && deployFailures.length === 0 ? 0 : 1);

/** A real HAProxy (master-worker, admin socket) with one frontend and one empty backend per app. */
async function startHaproxy() {
  const dir = join(work, 'haproxy');
  mkdirSync(dir);
  const socket = join(dir, 'admin.sock');
  const cfg = [
    'global',
    `  stats socket ${socket} level admin expose-fd listeners`,
    '  hard-stop-after 10s',
    'defaults',
    '  mode http',
    '  timeout connect 1s',
    `  timeout client ${args['keep-alive-timeout'] ?? '150s'}`,
    '  timeout server 30s',
    // Like the embedded proxy's default client keep-alive (see BENCHMARKS.md / docs).
    `  timeout http-keep-alive ${args['keep-alive-timeout'] ?? '120s'}`,
    ...SERVICES.flatMap((a) => [
      `frontend fe_${a}`,
      `  bind 127.0.0.1:${ports[a]}`,
      `  default_backend ${a}`,
      `backend ${a}`,
      '  balance roundrobin',
      '  default-server check inter 200ms fall 2 rise 1',
    ]),
    '',
  ].join('\n');
  writeFileSync(join(dir, 'haproxy.cfg'), cfg);
  // Its log (every server added, drained, deleted) goes to a file, kept on the screen's side only by path.
  const { openSync } = await import('node:fs');
  const logFd = openSync(join(tmpdir(), `baton-soak-haproxy-${process.pid}.log`), 'w');
  const child = spawn('/usr/sbin/haproxy', ['-W', '-db', '-f', join(dir, 'haproxy.cfg')], {
    stdio: ['ignore', 'ignore', logFd],
  });
  cleanups.push(async () => {
    if (child.exitCode !== null) return;
    child.kill('SIGTERM');
    await Promise.race([new Promise((r) => child.once('exit', r)), sleep(5000)]);
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  const { connect } = await import('node:net');
  const deadline = Date.now() + 10_000;
  for (;;) {
    const up = await new Promise((r) => {
      const s = connect(socket, () => {
        s.destroy();
        r(true);
      });
      s.on('error', () => r(false));
    });
    if (up) break;
    if (Date.now() > deadline || child.exitCode !== null) throw new Error('haproxy did not start');
    await sleep(100);
  }
  say(
    `haproxy pid ${child.pid}, socket ${socket}, log ${join(tmpdir(), `baton-soak-haproxy-${process.pid}.log`)}`,
  );
  return { socket, pid: child.pid };
}

/** The examples/hello image, built locally from scratch by the test suite's own fixture. */
async function helloImage() {
  const { build } = await import('esbuild');
  // Transpiled next to its source: the fixture finds the repository from its own path.
  const dir = join(root, 'test', 'fixtures', 'docker');
  const out = join(dir, `.soak-build-hello-image-${process.pid}.mjs`);
  await build({
    entryPoints: [join(dir, 'build-hello-image.ts')],
    outfile: out,
    format: 'esm',
    platform: 'node',
  });
  try {
    const m = await import(out);
    const ref = m.buildHelloImage('soak');
    const [repo, tag] = ref.split(':');
    return { repo, tag };
  } finally {
    rmSync(out, { force: true });
  }
}
