import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Agent, fetch as undiciFetch } from 'undici';
import { ApiClient } from '../../src/cli/client.js';
import { freePort } from './ports.js';
import { waitFor } from './wait.js';

export { freePort };

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const CLI = join(ROOT, 'dist', 'cli', 'main.js');
export const HELLO = join(ROOT, 'examples', 'hello');

if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first (npm test does)`);

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `baton ARGS` as a user would, with the env given. */
export function baton(
  args: string[],
  opts: { dataDir: string; cwd?: string; env?: NodeJS.ProcessEnv },
): Promise<CliResult> {
  return new Promise((res, rej) => {
    const child = spawn(process.execPath, [CLI, '--data-dir', opts.dataDir, ...args], {
      cwd: opts.cwd ?? ROOT,
      env: { ...process.env, ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => {
      stdout += c;
    });
    child.stderr.on('data', (c: Buffer) => {
      stderr += c;
    });
    child.on('error', rej);
    child.on('close', (code) => res({ code: code ?? -1, stdout, stderr }));
  });
}

export interface Daemon {
  child: ChildProcess;
  url: string;
  output: () => string;
  /** Sends a signal and waits until the process is gone. */
  kill(signal?: NodeJS.Signals): Promise<void>;
}

/** Starts `baton serve` on an OS-chosen port and waits until its API answers. */
export async function startDaemon(
  dataDir: string,
  env?: NodeJS.ProcessEnv,
  args: string[] = [],
): Promise<Daemon> {
  const apiFile = join(dataDir, 'api.json');
  rmSync(apiFile, { force: true });
  const argv = [CLI, '--data-dir', dataDir, 'serve', '--listen', '127.0.0.1:0', ...args];
  const child = spawn(process.execPath, argv, {
    cwd: ROOT,
    env: { ...process.env, BATON_LOG_LEVEL: process.env.BATON_LOG_LEVEL ?? 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (c: Buffer) => {
    out += c;
  });
  child.stderr!.on('data', (c: Buffer) => {
    out += c;
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const url = await waitFor(
    async () => {
      if (child.exitCode !== null) throw new Error(`baton serve exited with ${child.exitCode}: ${out}`);
      if (!existsSync(apiFile)) return undefined;
      const { url, pid } = JSON.parse(readFileSync(apiFile, 'utf8')) as { url: string; pid: number };
      if (pid !== child.pid) return undefined;
      // An HTTPS API is checked with the CA the test gives the CLI (BATON_CA).
      const ca = env?.BATON_CA ? readFileSync(env.BATON_CA) : undefined;
      const r = await undiciFetch(
        `${url}/v1/health`,
        ca ? { dispatcher: new Agent({ connect: { ca } }) } : {},
      );
      return r.ok ? url : undefined;
    },
    { timeoutMs: 20_000, message: 'baton serve to answer' },
  );
  const daemon: Daemon = {
    child,
    url,
    output: () => out,
    async kill(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
      daemons.delete(daemon);
    },
  };
  daemons.add(daemon);
  return daemon;
}

export interface Workspace {
  dir: string;
  dataDir: string;
  specFile: string;
  /** Stops the proxy and every instance by PID, then removes the directory. */
  cleanup(): Promise<void>;
}

/** Workspaces not cleaned up yet: test/setup.ts cleans them after each file, whatever happened. */
const open = new Set<Workspace>();
const daemons = new Set<Daemon>();

export function workspace(): Workspace {
  const dir = mkdtempSync(join(tmpdir(), 'baton-e2e-'));
  const dataDir = join(dir, 'data');
  const ws: Workspace = {
    dir,
    dataDir,
    specFile: join(dir, 'baton.yaml'),
    async cleanup() {
      open.delete(ws);
      await killAll(dataDir);
      rmSync(dir, { recursive: true, force: true });
    },
  };
  open.add(ws);
  return ws;
}

/** Stops every daemon and cleans every workspace a test file left behind (a timeout, a failed setup). */
export async function cleanupLeftovers(): Promise<void> {
  for (const d of daemons) await d.kill('SIGKILL');
  for (const ws of open) await ws.cleanup();
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Kills every instance (its process group) and the proxy that a data dir knows of. */
export async function killAll(dataDir: string): Promise<void> {
  const pids: Array<{ pid: number; group: boolean }> = [];
  const instDir = join(dataDir, 'instances');
  if (existsSync(instDir)) {
    for (const f of readdirSync(instDir).filter((f) => f.endsWith('.json'))) {
      try {
        const rec = JSON.parse(readFileSync(join(instDir, f), 'utf8')) as { pid?: number };
        if (rec.pid) pids.push({ pid: rec.pid, group: true });
      } catch {}
    }
  }
  const proxyPid = join(dataDir, 'proxy', 'proxy.pid');
  if (existsSync(proxyPid)) pids.push({ pid: Number(readFileSync(proxyPid, 'utf8').trim()), group: false });
  for (const { pid, group } of pids) {
    try {
      process.kill(group ? -pid : pid, 'SIGKILL');
    } catch {}
  }
  await waitFor(() => pids.every(({ pid }) => !alive(pid)), {
    timeoutMs: 10_000,
    message: 'test processes to exit',
  });
}

export interface HelloSpec {
  /** Service name (default hello). */
  service?: string;
  version: string;
  listen: number;
  replicas?: number;
  strategy?: string;
  env?: Record<string, string>;
  drainTimeout?: string;
  startTimeout?: string;
  probePath?: string;
  /** Port of the preview listener. */
  preview?: number;
  /** `traffic.router` as one line of YAML, e.g. `{ kind: haproxy, sockets: [/tmp/a.sock] }`. */
  router?: string;
  /** Raw YAML lines appended to the service (indented by 4), e.g. hooks. */
  extra?: string;
}

/** A baton.yaml for examples/hello. */
export function helloYaml(s: HelloSpec): string {
  const env = { VERSION: s.version, ...s.env };
  return `services:
  ${s.service ?? 'hello'}:
    command: ${process.execPath}
    args: [server.js]
    cwd: ${HELLO}
    env:
${Object.entries(env)
  .map(([k, v]) => `      ${k}: "${v}"`)
  .join('\n')}
    replicas: ${s.replicas ?? 2}
    probe:
      http: { path: ${s.probePath ?? '/health'} }
      interval: 200ms
      timeout: 1s
      startTimeout: ${s.startTimeout ?? '10s'}
    traffic:
      listen: 127.0.0.1:${s.listen}
      drainTimeout: ${s.drainTimeout ?? '10s'}${s.preview ? `\n      preview: 127.0.0.1:${s.preview}` : ''}${s.router ? `\n      router: ${s.router}` : ''}
    strategy: ${s.strategy ?? '{ type: rolling, maxSurge: 1, maxUnavailable: 0 }'}
    stopTimeout: 5s
${s.extra ? `${s.extra.replace(/^/gm, '    ')}\n` : ''}`;
}

export function writeHello(ws: Workspace, s: HelloSpec): void {
  writeFileSync(ws.specFile, helloYaml(s));
}

export interface StatusJson {
  services: Array<{
    service: string;
    current: number | null;
    waiting: string | null;
    paused: boolean;
    split: { weights: Array<{ revision: number; percent: number }> } | null;
    mode: { kind: string } | null;
    lock: { holder: string } | null;
    instances: Array<{
      id: string;
      pid: number;
      port: number;
      revision: number;
      state: string;
      routed: string;
      healthy: boolean | null;
      /** Requests and WebSockets the router counts in flight to it. */
      inFlight: number;
      restarts: number;
    }>;
  }>;
}

export interface HistoryJson {
  current: number | null;
  revisions: Array<{ number: number; status: string; reason?: string }>;
  deployments: Array<{ id: string; kind: string; state: string; toRevision: number; error?: string }>;
}

/** A control plane with examples/hello deployed: the starting point of most end-to-end tests. */
export interface HelloFixture {
  ws: Workspace;
  daemon: Daemon;
  port: number;
  base: string;
  /** Writes the spec (listen filled in) and runs `baton deploy` with extra args. */
  deploy(spec: Omit<HelloSpec, 'listen'>, args?: string[]): Promise<CliResult>;
  cli(args: string[], env?: NodeJS.ProcessEnv): Promise<CliResult>;
  status(): Promise<StatusJson['services'][number]>;
  history(): Promise<HistoryJson>;
  /** Restarts the control plane (SIGKILL by default), with extra environment for the new one. */
  restart(signal?: NodeJS.Signals, env?: NodeJS.ProcessEnv): Promise<void>;
  close(): Promise<void>;
}

export async function helloFixture(
  first: Omit<HelloSpec, 'listen'>,
  env?: NodeJS.ProcessEnv,
): Promise<HelloFixture> {
  const ws = workspace();
  const port = await freePort();
  const f: HelloFixture = {
    ws,
    daemon: await startDaemon(ws.dataDir, env),
    port,
    base: `http://127.0.0.1:${port}`,
    deploy: (spec, args = []) => {
      writeHello(ws, { service: first.service, ...spec, listen: port });
      return baton(['deploy', '-f', ws.specFile, ...args], { dataDir: ws.dataDir });
    },
    cli: (args, cliEnv) => baton(args, { dataDir: ws.dataDir, ...(cliEnv ? { env: cliEnv } : {}) }),
    // Straight from the API (what `baton status --json` prints): polled in loops, and a CLI process per
    // poll costs a second of CPU on a loaded 2-core machine.
    status: async () =>
      (await ApiClient.from({ dataDir: ws.dataDir }).json<StatusJson>('GET', '/v1/status')).services[0]!,
    history: async () =>
      JSON.parse(
        (await baton(['history', 'hello', '--json'], { dataDir: ws.dataDir })).stdout,
      ) as HistoryJson,
    restart: async (signal = 'SIGKILL', restartEnv) => {
      await f.daemon.kill(signal);
      f.daemon = await startDaemon(ws.dataDir, restartEnv);
    },
    close: async () => {
      await f.daemon.kill();
      await ws.cleanup();
    },
  };
  const r = await f.deploy(first);
  if (r.code !== 0) {
    await f.close();
    throw new Error(`first deploy failed: ${r.stderr}`);
  }
  return f;
}

(globalThis as { batonCleanupLeftovers?: () => Promise<void> }).batonCleanupLeftovers = cleanupLeftovers;
