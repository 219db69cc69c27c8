// What the demo and the benchmarks share: a free port, a control plane in a temporary data dir, and
// stopping everything they started by PID (instances and the proxy outlive the control plane by design).
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const cli = join(root, 'dist', 'cli', 'main.js');
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export const freePort = () =>
  new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
  });

const alive = (pid) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** `baton serve` on an OS-chosen port in a new temporary data dir; resolves once its API answers. */
export async function startBaton(prefix, { stderr = 'inherit' } = {}) {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const dataDir = join(dir, 'data');
  const child = spawn(process.execPath, [cli, '--data-dir', dataDir, 'serve', '--listen', '127.0.0.1:0'], {
    stdio: ['ignore', 'ignore', stderr],
    env: { ...process.env, BATON_LOG_LEVEL: 'warn' },
  });
  const apiFile = join(dataDir, 'api.json');
  // A loaded machine (CI on 2 cores, or one shared with other test runs) can take long to start it.
  const deadline = Date.now() + 60_000;
  let url;
  while (!url && Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`baton serve exited with ${child.exitCode}`);
    if (existsSync(apiFile)) {
      const api = JSON.parse(readFileSync(apiFile, 'utf8'));
      if (
        api.pid === child.pid &&
        (await fetch(`${api.url}/v1/health`).then(
          (r) => r.ok,
          () => false,
        ))
      )
        url = api.url;
    }
    if (!url) await sleep(50);
  }
  if (!url) {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    throw new Error('baton serve did not answer within 60s');
  }
  const token = readFileSync(join(dataDir, 'token'), 'utf8').trim();

  /** Stops the control plane, then every instance (its process group) and the proxy, and removes the dir. */
  async function stop() {
    if (child.exitCode === null) {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
    const pids = [];
    const instances = join(dataDir, 'instances');
    if (existsSync(instances)) {
      for (const f of readdirSync(instances).filter((x) => x.endsWith('.json'))) {
        const { pid } = JSON.parse(readFileSync(join(instances, f), 'utf8'));
        if (pid) pids.push(-pid);
      }
    }
    const proxyPid = join(dataDir, 'proxy', 'proxy.pid');
    if (existsSync(proxyPid)) pids.push(Number(readFileSync(proxyPid, 'utf8')));
    const signal = (sig) => {
      for (const pid of pids) {
        try {
          process.kill(pid, sig);
        } catch {}
      }
    };
    signal('SIGTERM');
    const until = Date.now() + 10_000;
    while (pids.some((p) => alive(Math.abs(p))) && Date.now() < until) await sleep(50);
    signal('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
  return { dir, dataDir, url, token, child, stop };
}

/**
 * Deploys through the API and reads its event stream (one JSON event per line), calling `onEvent` with
 * each event and the time it arrived (the load generators' clock). Resolves with the last event, throws
 * when the deploy did not end ok.
 */
export async function deployStream({ url, token, service, spec, actor }, onEvent = () => {}) {
  const res = await fetch(`${url}/v1/deploy`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ service, spec, actor }),
  });
  let buf = '';
  let last;
  for await (const chunk of res.body) {
    buf += Buffer.from(chunk).toString();
    const lines = buf.split('\n');
    buf = lines.pop();
    for (const line of lines) {
      if (!line.trim()) continue;
      last = JSON.parse(line);
      onEvent(last, performance.now());
    }
  }
  if (!last?.ok) throw new Error(`deploy of ${service} failed: ${last?.message ?? `HTTP ${res.status}`}`);
  return last;
}
