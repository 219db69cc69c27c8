import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type NatsAuth, natsAuthFromEnv } from '../../src/store/nats/connect.js';
import {
  baton,
  CLI,
  type CliResult,
  freePort,
  type HelloSpec,
  helloYaml,
  killAll,
  ROOT,
} from '../helpers/baton.js';
import { type NatsCluster, secureEnv, startNatsCluster } from '../helpers/nats.js';
import { makePki } from '../helpers/tls.js';
import { waitFor } from '../helpers/wait.js';

/**
 * Set in every agent's environment, so every process of one fixture (its agents' instances and proxies
 * inherit it) can be found by PID at close, whatever the agents recorded.
 */
const MARK = 'BATON_TEST_CLUSTER';

interface Marked {
  pid: number;
  /** BATON_INSTANCE of an instance; undefined for a proxy or an agent. */
  instance: string | undefined;
  /** BATON_SPAWN_TOKEN: the process runtime's intent it was spawned under. */
  token: string | undefined;
}

/** Tokens of the spawn intents left in a data dir (an agent killed while spawning; see records.ts). */
function intentTokens(dataDir: string): string[] {
  const dir = join(dataDir, 'instances');
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((n) => n.endsWith('.spawning'))
    .flatMap((n) => {
      try {
        return [(JSON.parse(readFileSync(join(dir, n), 'utf8')) as { token: string }).token];
      } catch {
        return [];
      }
    });
}

/** Live processes whose environment carries `MARK=<value>` (Linux: /proc/<pid>/environ). */
export function markedProcesses(value: string): Marked[] {
  const out: Marked[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let env: string[];
    try {
      env = readFileSync(`/proc/${name}/environ`, 'utf8').split('\0');
    } catch {
      continue; // gone meanwhile, or not ours to read
    }
    if (!env.includes(`${MARK}=${value}`)) continue;
    const get = (k: string) => env.find((e) => e.startsWith(`${k}=`))?.slice(k.length + 1);
    out.push({ pid: Number(name), instance: get('BATON_INSTANCE'), token: get('BATON_SPAWN_TOKEN') });
  }
  return out;
}

function isZombie(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.startsWith('Z') ?? false;
  } catch {
    return true;
  }
}

/** The listen port written in the spec; each agent adds its own offset (several agents on one host). */
export const BASE_PORT = 10_000;

export interface AgentProc {
  node: string;
  dataDir: string;
  /** This node's proxy listener for the service. */
  port: number;
  /** URL of its GET /metrics (with `metrics: true`). */
  metrics?: string;
  child: ChildProcess;
  output(): string;
  /** Signals the agent (not its instances, not its proxy) and waits until it is gone. */
  kill(signal?: NodeJS.Signals): Promise<void>;
}

export interface AgentEventLine {
  at: string;
  ms: number;
  node: string;
  type: string;
  service?: string;
  slot?: number;
  lease?: number;
  revision?: number;
  instance?: string;
  from?: string | number;
  to?: string | number;
  why?: string;
  healthy?: boolean;
}

export interface ClusterFixture {
  dir: string;
  nats: NatsCluster;
  /** Baton's NATS user and the CA, for test code that connects itself (`connectNats({ auth })`). */
  natsAuth: NatsAuth;
  agents: AgentProc[];
  specFile: string;
  cli(args: string[]): Promise<CliResult>;
  /** Writes the hello spec and runs `baton deploy --cluster`. */
  deploy(spec: Omit<HelloSpec, 'listen'>): Promise<CliResult>;
  events(node?: string): AgentEventLine[];
  status(): Promise<ClusterStatusJson>;
  /** Starts (again) the agent of node `i`. */
  startAgent(i: number): Promise<AgentProc>;
  close(): Promise<void>;
}

export interface ClusterStatusJson {
  services: Array<{
    service: string;
    desired: { revision: number; previous: number | null; reason?: string } | null;
    nodes: Array<{
      node: string;
      slots: Array<{
        slot: number;
        state: string;
        instance: string | null;
        revision: number | null;
        healthy: boolean;
        registered: boolean;
        restarts: number;
      }>;
    }>;
  }>;
}

export async function startClusterFixture(opts: {
  nodes: number;
  ttl?: string;
  /** Each agent serves GET /metrics (`--metrics-listen`) at `AgentProc.metrics`. */
  metrics?: boolean;
}): Promise<ClusterFixture> {
  const dir = mkdtempSync(join(tmpdir(), 'baton-cluster-'));
  // As in production: NATS speaks TLS only, and Baton's user is limited to Baton's subjects.
  const security = { pki: makePki(dir), password: randomBytes(12).toString('hex') };
  const natsEnv = secureEnv(security);
  const nats = await startNatsCluster(3, security);
  const ports = await Promise.all(Array.from({ length: opts.nodes }, () => freePort()));
  const metricsPorts = opts.metrics
    ? await Promise.all(Array.from({ length: opts.nodes }, () => freePort()))
    : undefined;
  const agents: AgentProc[] = [];
  const specFile = join(dir, 'baton.yaml');
  const cli = (args: string[]) =>
    baton([...args, '--nats', nats.urls.join(',')], { dataDir: join(dir, 'cli'), env: natsEnv });

  const startAgent = async (i: number): Promise<AgentProc> => {
    const node = `n${i + 1}`;
    const dataDir = join(dir, node);
    const child = spawn(
      process.execPath,
      [
        CLI,
        '--data-dir',
        dataDir,
        'agent',
        '--nats',
        nats.urls.join(','),
        '--node',
        node,
        '--ttl',
        opts.ttl ?? '4s',
        '--listen-offset',
        String(ports[i]! - BASE_PORT),
        ...(metricsPorts ? ['--metrics-listen', `127.0.0.1:${metricsPorts[i]}`] : []),
      ],
      {
        cwd: ROOT,
        env: {
          ...process.env,
          BATON_LOG_LEVEL: process.env.BATON_LOG_LEVEL ?? 'warn',
          BATON_PROXY_WORKERS: '0',
          ...natsEnv,
          [MARK]: dir,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    child.stdout!.on('data', (c: Buffer) => {
      out = (out + c).slice(-50_000);
    });
    child.stderr!.on('data', (c: Buffer) => {
      out = (out + c).slice(-50_000);
    });
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    const a: AgentProc = {
      node,
      dataDir,
      port: ports[i]!,
      ...(metricsPorts ? { metrics: `http://127.0.0.1:${metricsPorts[i]}/metrics` } : {}),
      child,
      output: () => out,
      async kill(signal = 'SIGTERM') {
        if (child.exitCode === null && child.signalCode === null) child.kill(signal);
        const t = setTimeout(() => child.kill('SIGKILL'), 15_000);
        await exited;
        clearTimeout(t);
      },
    };
    agents[i] = a;
    return a;
  };

  for (let i = 0; i < opts.nodes; i++) await startAgent(i);
  const f: ClusterFixture = {
    dir,
    nats,
    natsAuth: natsAuthFromEnv({}, natsEnv),
    agents,
    specFile,
    cli,
    startAgent,
    deploy: async (spec) => {
      writeFileSync(specFile, helloYaml({ ...spec, listen: BASE_PORT }));
      return cli(['deploy', '--cluster', '-f', specFile, '--json']);
    },
    events: (node) =>
      agents
        .filter((a) => node === undefined || a.node === node)
        .flatMap((a) => {
          const file = join(a.dataDir, 'agent', 'events.jsonl');
          if (!existsSync(file)) return [];
          return readFileSync(file, 'utf8')
            .split('\n')
            .filter(Boolean)
            .map((l) => JSON.parse(l) as AgentEventLine);
        })
        .sort((a, b) => a.ms - b.ms),
    status: async () => {
      const r = await cli(['status', '--cluster', '--json']);
      if (r.code !== 0) throw new Error(`status --cluster failed: ${r.stderr}${r.stdout}`);
      return JSON.parse(r.stdout) as ClusterStatusJson;
    },
    close: async () => {
      await Promise.all(agents.map((a) => a.kill('SIGKILL')));
      for (const a of agents) await killAll(a.dataDir);
      // Whatever the records missed is found by its environment and killed by PID. An instance found
      // through a spawn intent (its agent was killed while the OS created it) was findable; anything
      // else fails the test: nothing may be orphaned.
      const intents = new Set(agents.flatMap((a) => intentTokens(a.dataDir)));
      const left = markedProcesses(dir).filter((p) => !isZombie(p.pid));
      for (const p of left) {
        try {
          process.kill(p.pid, 'SIGKILL');
        } catch {}
      }
      await waitFor(() => markedProcesses(dir).every((p) => isZombie(p.pid)), {
        timeoutMs: 10_000,
        message: 'every process of the cluster fixture to exit',
      });
      await nats.stop();
      rmSync(dir, { recursive: true, force: true });
      const orphans = left.filter((p) => p.instance !== undefined && !(p.token && intents.has(p.token)));
      if (orphans.length)
        throw new Error(
          `instances outlived their agents and the records (killed now): ${orphans.map((p) => `${p.instance} (pid ${p.pid})`).join(', ')}`,
        );
    },
  };
  // Every agent published its status: the cluster is up.
  await waitFor(
    async () => {
      const r = await cli(['nodes', '--json']);
      return r.code === 0 && (JSON.parse(r.stdout) as { nodes: unknown[] }).nodes.length === opts.nodes;
    },
    { timeoutMs: 30_000, message: 'every agent to publish its status' },
  ).catch(async (e: Error) => {
    const logs = agents.map((a) => `--- ${a.node}\n${a.output()}`).join('\n');
    await f.close();
    throw new Error(`${e.message}\n${logs}`);
  });
  return f;
}

/** The most instances holding an update at once, from the agents' update.start/update.end events. */
export function maxConcurrentUpdates(events: AgentEventLine[]): number {
  let cur = 0;
  let max = 0;
  // At the same millisecond an end comes first: a lease is released after its end is logged.
  const rank = (t: string) => (t === 'update.start' ? 1 : 0);
  const sorted = [...events].sort((a, b) => a.ms - b.ms || rank(a.type) - rank(b.type));
  for (const e of sorted) {
    if (e.type === 'update.start') max = Math.max(max, ++cur);
    else if (e.type === 'update.end' || e.type === 'update.failed') cur--;
  }
  return max;
}

/** Whether every node runs `replicas` healthy, registered instances of `revision` in RUN. */
export function converged(s: ClusterStatusJson, revision: number, nodes: number, replicas: number): boolean {
  const svc = s.services[0];
  if (!svc || svc.desired?.revision !== revision || svc.nodes.length !== nodes) return false;
  return svc.nodes.every(
    (n) =>
      n.slots.length === replicas &&
      n.slots.every((x) => x.state === 'RUN' && x.revision === revision && x.healthy && x.registered),
  );
}
