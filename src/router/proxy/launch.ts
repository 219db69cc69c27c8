import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DriverError } from '../../core/errors.js';
import { isAlive } from '../../runtime/process/proc.js';
import { proxyHealth } from './client.js';
import { proxyPaths } from './paths.js';

const START_DEADLINE_MS = 10_000;
const STOP_DEADLINE_MS = 20_000;
const POLL_MS = 50;

export interface EnsureProxyOptions {
  /** The proxy's entry script; defaults to `main.js` next to this module (so it works from dist/). */
  entry?: string;
  /** Defaults to `<dataDir>/proxy/proxy.log`. */
  logFile?: string;
  /** Worker processes for the data path; defaults to `BATON_PROXY_WORKERS`, else one per CPU. */
  workers?: number;
  /** Node flags for the proxy's processes (its workers inherit them), e.g. `--cpu-prof` for the benches. */
  execArgv?: string[];
}

/** The pid in the pid file, if that process is alive and is a baton proxy (not a recycled pid). */
export async function runningProxyPid(pidFile: string): Promise<number | undefined> {
  try {
    const pid = Number((await readFile(pidFile, 'utf8')).trim());
    if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid || !isAlive(pid)) return undefined;
    const cmdline = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0');
    return cmdline.some((a) => a.endsWith(`proxy${sep}main.js`)) ? pid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Makes sure a proxy serves `dataDir`: returns the running one, or starts one detached (it outlives the
 * caller) with its output in the log file, and waits until its admin socket answers.
 */
export async function ensureProxy(
  dataDir: string,
  opts: EnsureProxyOptions = {},
): Promise<{ pid: number; started: boolean }> {
  const paths = proxyPaths(dataDir);
  const live = await proxyHealth(paths.socket);
  if (live) return { pid: live.pid, started: false };
  // Alive but slow to answer (a loaded machine) is not dead: a second proxy must never be started.
  const running = await runningProxyPid(paths.pid);
  if (running !== undefined) return { pid: running, started: false };
  const entry = opts.entry ?? fileURLToPath(new URL('./main.js', import.meta.url));
  if (!existsSync(entry))
    throw new DriverError('proxy', `proxy entry ${entry} not found (run npm run build)`);
  await mkdir(paths.dir, { recursive: true, mode: 0o700 });
  const logFile = opts.logFile ?? paths.log;
  const fd = openSync(logFile, 'a', 0o600);
  let exited: string | undefined;
  try {
    const args = [...(opts.execArgv ?? []), entry, '--data-dir', dataDir];
    if (opts.workers !== undefined) args.push('--workers', String(opts.workers));
    const child = spawn(process.execPath, args, {
      detached: true,
      stdio: ['ignore', fd, fd],
    });
    child.once('exit', (code, signal) => {
      exited = signal ? `signal ${signal}` : `code ${code}`;
    });
    child.once('error', (e) => {
      exited = e.message;
    });
    child.unref();
  } finally {
    closeSync(fd);
  }
  const deadline = Date.now() + START_DEADLINE_MS;
  while (Date.now() < deadline) {
    const h = await proxyHealth(paths.socket, 1000);
    if (h) return { pid: h.pid, started: true };
    if (exited !== undefined) {
      throw new DriverError(
        'proxy',
        `proxy exited at start (${exited}); see ${logFile}:\n${await tail(logFile)}`,
      );
    }
    await delay(POLL_MS);
  }
  throw new DriverError('proxy', `proxy did not answer within ${START_DEADLINE_MS} ms; see ${logFile}`);
}

/** SIGTERM to the proxy named in the pid file, then waits until it is gone. False when none ran. */
export async function stopProxy(dataDir: string, timeoutMs = STOP_DEADLINE_MS): Promise<boolean> {
  const paths = proxyPaths(dataDir);
  const text = await readFile(paths.pid, 'utf8').catch(() => '');
  const pid = Number(text.trim());
  if (!Number.isInteger(pid) || pid <= 0 || !alive(pid)) return false;
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + timeoutMs;
  while (alive(pid)) {
    if (Date.now() > deadline)
      throw new DriverError('proxy', `proxy pid ${pid} still running ${timeoutMs} ms after SIGTERM`);
    await delay(POLL_MS);
  }
  return true;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function tail(file: string): Promise<string> {
  const text = await readFile(file, 'utf8').catch(() => '');
  return text.split('\n').slice(-20).join('\n');
}

const delay = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
