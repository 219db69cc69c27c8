#!/usr/bin/env node
// `npm run demo`: the main job on the embedded default. Starts a control plane in a temporary data dir,
// deploys examples/hello v1 with 2 replicas, keeps load on it while it deploys v2 and rolls back to v1,
// and ends with `demo: <N> requests, <F> failed, <D> deploys` (exit 1 unless F is 0). Cleans up every
// process it started.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startLoad } from '../dist/testing/load.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const cli = join(root, 'dist', 'cli', 'main.js');
const dir = mkdtempSync(join(tmpdir(), 'baton-demo-'));
const dataDir = join(dir, 'data');
const specFile = join(dir, 'baton.yaml');
const say = (s) => process.stdout.write(`\x1b[1m== ${s}\x1b[0m\n`);

const freePort = () =>
  new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
  });

/** Runs the CLI with its progress shown; resolves with its exit code. */
const baton = (...args) =>
  new Promise((res, rej) => {
    const child = spawn(process.execPath, [cli, '--data-dir', dataDir, ...args], {
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    child.on('error', rej);
    child.on('exit', (code) => res(code ?? 1));
  });

let daemon;
async function startDaemon() {
  daemon = spawn(process.execPath, [cli, '--data-dir', dataDir, 'serve', '--listen', '127.0.0.1:0'], {
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, BATON_LOG_LEVEL: 'warn' },
  });
  const apiFile = join(dataDir, 'api.json');
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (daemon.exitCode !== null) throw new Error(`baton serve exited with ${daemon.exitCode}`);
    if (existsSync(apiFile)) {
      const { url, pid } = JSON.parse(readFileSync(apiFile, 'utf8'));
      if (
        pid === daemon.pid &&
        (await fetch(`${url}/v1/health`).then(
          (r) => r.ok,
          () => false,
        ))
      )
        return url;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('baton serve did not answer within 20s');
}

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function cleanup() {
  if (daemon && daemon.exitCode === null) {
    daemon.kill('SIGTERM');
    await new Promise((r) => daemon.once('exit', r));
  }
  // Instances and the proxy outlive the control plane by design; the demo stops them by PID.
  const pids = [];
  const instances = join(dataDir, 'instances');
  if (existsSync(instances)) {
    for (const f of readdirSync(instances).filter((f) => f.endsWith('.json'))) {
      const { pid } = JSON.parse(readFileSync(join(instances, f), 'utf8'));
      if (pid) pids.push(-pid);
    }
  }
  const proxyPid = join(dataDir, 'proxy', 'proxy.pid');
  if (existsSync(proxyPid)) pids.push(Number(readFileSync(proxyPid, 'utf8')));
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGTERM');
    } catch {}
  }
  const deadline = Date.now() + 10_000;
  while (pids.some((p) => alive(Math.abs(p))) && Date.now() < deadline)
    await new Promise((r) => setTimeout(r, 50));
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {}
  }
  rmSync(dir, { recursive: true, force: true });
}

function writeSpec(version, port) {
  writeFileSync(
    specFile,
    `services:
  hello:
    command: ${process.execPath}
    args: [server.js]
    cwd: ${join(root, 'examples', 'hello')}
    env: { VERSION: ${version} }
    replicas: 2
    probe: { http: { path: /health }, interval: 250ms, startTimeout: 15s }
    traffic: { listen: 127.0.0.1:${port}, drainTimeout: 10s }
    strategy: { type: rolling, maxSurge: 1, maxUnavailable: 0 }
`,
  );
}

let failedRequests = 1;
try {
  const port = await freePort();
  say(`starting the control plane in ${dataDir}`);
  await startDaemon();
  writeSpec('v1', port);
  say('deploying hello v1 with 2 replicas');
  let deploys = 0;
  if ((await baton('deploy', '-f', specFile)) !== 0) throw new Error('deploy of v1 failed');
  deploys++;
  say(`load: 150 requests/s on http://127.0.0.1:${port}/ (keep-alive and new connections)`);
  const load = startLoad(`http://127.0.0.1:${port}`, { rps: 150 });
  writeSpec('v2', port);
  say('deploying hello v2 under load');
  if ((await baton('deploy', '-f', specFile)) !== 0) throw new Error('deploy of v2 failed');
  deploys++;
  say('rolling back to v1 under load');
  if ((await baton('rollback', 'hello')) !== 0) throw new Error('rollback failed');
  deploys++;
  await baton('status');
  const report = await load.stop();
  failedRequests = report.failed;
  for (const [body, n] of report.bodies) say(`${n} answers: ${body}`);
  if (report.errors.length) say(`failures: ${report.errors.join('; ')}`);
  process.stdout.write(`demo: ${report.sent} requests, ${report.failed} failed, ${deploys} deploys\n`);
} catch (err) {
  process.stderr.write(`demo failed: ${err instanceof Error ? err.message : err}\n`);
} finally {
  await cleanup();
}
process.exitCode = failedRequests === 0 ? 0 : 1;
