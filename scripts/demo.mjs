#!/usr/bin/env node
// `npm run demo`: the main job on the embedded default. Starts a control plane in a temporary data dir,
// deploys examples/hello v1 with 2 replicas, keeps load on it while it deploys v2 and rolls back to v1,
// and ends with `demo: <N> requests, <F> failed, <D> deploys` (exit 1 unless F is 0). Cleans up every
// process it started.
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startLoad } from '../dist/testing/load.js';
import { cli, freePort, root, startBaton } from './lib/local-baton.mjs';

const say = (s) => process.stdout.write(`\x1b[1m== ${s}\x1b[0m\n`);
let baton;
let specFile;

/** Runs the CLI with its progress shown; resolves with its exit code. */
const run = (...args) =>
  new Promise((res, rej) => {
    const child = spawn(process.execPath, [cli, '--data-dir', baton.dataDir, ...args], {
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    child.on('error', rej);
    child.on('exit', (code) => res(code ?? 1));
  });

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
  baton = await startBaton('baton-demo-');
  specFile = join(baton.dir, 'baton.yaml');
  say(`started the control plane in ${baton.dataDir}`);
  writeSpec('v1', port);
  say('deploying hello v1 with 2 replicas');
  let deploys = 0;
  if ((await run('deploy', '-f', specFile)) !== 0) throw new Error('deploy of v1 failed');
  deploys++;
  say(`load: 150 requests/s on http://127.0.0.1:${port}/ (keep-alive and new connections)`);
  const load = startLoad(`http://127.0.0.1:${port}`, { rps: 150 });
  writeSpec('v2', port);
  say('deploying hello v2 under load');
  if ((await run('deploy', '-f', specFile)) !== 0) throw new Error('deploy of v2 failed');
  deploys++;
  say('rolling back to v1 under load');
  if ((await run('rollback', 'hello')) !== 0) throw new Error('rollback failed');
  deploys++;
  await run('status');
  const report = await load.stop();
  failedRequests = report.failed;
  for (const [body, n] of report.bodies) say(`${n} answers: ${body}`);
  if (report.errors.length) say(`failures: ${report.errors.join('; ')}`);
  process.stdout.write(`demo: ${report.sent} requests, ${report.failed} failed, ${deploys} deploys\n`);
} catch (err) {
  process.stderr.write(`demo failed: ${err instanceof Error ? err.message : err}\n`);
} finally {
  await baton?.stop();
}
process.exitCode = failedRequests === 0 ? 0 : 1;
