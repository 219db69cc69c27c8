import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { freePort } from '../router/helpers.js';
import { waitFor } from './wait.js';

/** Debian's `nats-server` package installs /usr/sbin/nats-server; other installs put it in /usr/bin. */
const NATS_PATHS = ['/usr/sbin/nats-server', '/usr/bin/nats-server'];
export const NATS_BIN = NATS_PATHS.find((p) => existsSync(p)) ?? NATS_PATHS[0]!;

let available: boolean | undefined;

/**
 * Whether `/usr/bin/nats-server` is installed. When it is not: under `CI=true` this throws, so the suite
 * FAILS with what to install; locally it warns loudly and returns false, and the caller skips
 * (`describe.skipIf(!requireNats())`). `npm test` installs it first when it can (scripts/test.mjs).
 */
export function requireNats(): boolean {
  if (available !== undefined) return available;
  available = existsSync(NATS_BIN);
  if (available) return true;
  const message = `${NATS_BIN} is missing: the NATS store and cluster tests need nats-server 2.9+ with JetStream (Debian/Ubuntu: apt-get install -y nats-server).`;
  if (process.env.CI === 'true') throw new Error(`${message} (CI=true: failing instead of skipping)`);
  console.warn(`\n${'!'.repeat(100)}\nSKIPPING NATS TESTS: ${message}\n${'!'.repeat(100)}\n`);
  return false;
}

export interface NatsServer {
  name: string;
  /** `nats://127.0.0.1:<port>`, the port chosen by the OS (`listen: 127.0.0.1:-1`). */
  url: string;
  pid: number;
  /** Its temp dir: config, JetStream store, ports file. */
  dir: string;
  /** SIGKILL (a crash: no clean shutdown, no leadership hand-off); resolves once it exited. */
  kill(): Promise<void>;
  /** SIGTERM (SIGKILL after 5 s), then removes its temp dir. Safe to call after `kill`. */
  stop(): Promise<void>;
  /** The tail of its log, for failure messages. */
  log(): string;
}

export interface NatsCluster {
  servers: NatsServer[];
  /** Every server's URL, for a client that should fail over. */
  urls: string[];
  stop(): Promise<void>;
}

const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of running) c.kill('SIGKILL');
});

/** One JetStream-enabled nats-server on 127.0.0.1 with an OS-chosen client port and its own store dir. */
export async function startNats(): Promise<NatsServer> {
  const server = await spawnServer('n1', []);
  try {
    await waitJetStream([server.url]);
  } catch (e) {
    await server.stop();
    throw e;
  }
  return server;
}

/**
 * `size` servers in one JetStream cluster on loopback (for R3 buckets). Client ports are OS-chosen; route
 * ports must be known before any server starts (every server lists all routes), so they are taken from
 * free ports and the whole start is retried when one was grabbed in between.
 */
export async function startNatsCluster(size = 3, security?: NatsSecurity): Promise<NatsCluster> {
  let lastError: unknown;
  for (let attempt = 1; attempt <= 3; attempt++) {
    const routePorts = await Promise.all(Array.from({ length: size }, () => freePort()));
    if (new Set(routePorts).size !== size) continue;
    const routes = routePorts.map((p) => `nats-route://127.0.0.1:${p}`);
    const servers: NatsServer[] = [];
    try {
      for (let i = 0; i < size; i++) {
        const cluster = [
          'cluster {',
          '  name: baton-test',
          `  listen: 127.0.0.1:${routePorts[i]}`,
          `  routes: [${routes.map((r) => `"${r}"`).join(', ')}]`,
          '}',
        ];
        servers.push(
          await spawnServer(`n${i + 1}`, [...cluster, ...(security ? secureConfig(security) : [])]),
        );
      }
      const urls = servers.map((s) => s.url);
      await waitJetStream(urls, servers, security);
      return { servers, urls, stop: async () => void (await Promise.all(servers.map((s) => s.stop()))) };
    } catch (e) {
      lastError = e;
      await Promise.all(servers.map((s) => s.stop()));
    }
  }
  throw new Error(`could not start a ${size}-node nats cluster: ${String(lastError)}`, { cause: lastError });
}

/** A user's credentials on a secure server, as the CLI and agents take them from the environment. */
export interface SecureNats {
  server: NatsServer;
  /** Env for Baton (user BATON_NATS_USER/PASSWORD, CA BATON_NATS_TLS_CA): limited to Baton's subjects. */
  env: Record<string, string>;
  ca: string;
  stop(): Promise<void>;
}

export interface NatsSecurity {
  pki: { ca: string; cert: string; key: string };
  password: string;
}

/** Client options of Baton's user on a secure server (for test code that connects itself). */
export const secureClient = (s: NatsSecurity) => ({
  user: 'baton',
  pass: s.password,
  tls: { caFile: s.pki.ca },
});

/** The env the CLI and agents read Baton's user and the CA from. */
export const secureEnv = (s: NatsSecurity): Record<string, string> => ({
  BATON_NATS_USER: 'baton',
  BATON_NATS_PASSWORD: s.password,
  BATON_NATS_TLS_CA: s.pki.ca,
});

/**
 * Server config for TLS only (a throwaway CA, `makePki`) and two accounts: BATON (with JetStream) whose
 * user `baton` may publish and subscribe only to Baton's subjects and buckets, and OTHER, another tenant.
 */
function secureConfig(s: NatsSecurity): string[] {
  // Baton's subjects: its own (baton.>), its KV buckets (baton, baton-services, baton-nodes), the
  // JetStream API of its account, acks and flow control, and reply inboxes.
  const subjects = ['"baton.>"', '"$KV.baton.>"', '"$KV.baton-services.>"', '"$KV.baton-nodes.>"'];
  const js = ['"$JS.API.>"', '"$JS.ACK.>"', '"$JS.FC.>"', '"_INBOX.>"'];
  return [
    `tls { cert_file: "${s.pki.cert}", key_file: "${s.pki.key}", timeout: 5 }`,
    'accounts {',
    '  BATON: {',
    '    jetstream: enabled',
    `    users: [{ user: baton, password: "${s.password}", permissions: {`,
    `      publish: { allow: [${[...subjects, ...js].join(', ')}] }`,
    `      subscribe: { allow: [${[...subjects, '"_INBOX.>"', '"$JS.FC.>"'].join(', ')}] }`,
    '    } }]',
    '  }',
    '  OTHER: { jetstream: enabled, users: [{ user: other, password: other }] }',
    '}',
  ];
}

/** One nats-server with TLS and accounts (`secureConfig`). */
export async function startSecureNats(pki: { ca: string; cert: string; key: string }): Promise<SecureNats> {
  const security = { pki, password: randomBytes(12).toString('hex') };
  const server = await spawnServer('secure', secureConfig(security));
  try {
    await waitJetStream([server.url], [], security);
  } catch (e) {
    await server.stop();
    throw new Error(`secure nats-server did not come up: ${(e as Error).message}\n${server.log()}`);
  }
  return { server, env: secureEnv(security), ca: pki.ca, stop: () => server.stop() };
}

async function spawnServer(name: string, extra: string[]): Promise<NatsServer> {
  const dir = await mkdtemp(join(tmpdir(), 'bn-'));
  const conf = join(dir, 'nats.conf');
  await writeFile(
    conf,
    [
      `server_name: ${name}`,
      'listen: 127.0.0.1:-1',
      `jetstream { store_dir: "${join(dir, 'js')}" }`,
      `ports_file_dir: "${dir}"`,
      ...extra,
      '',
    ].join('\n'),
  );
  const child = spawn(NATS_BIN, ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  running.add(child);
  let log = '';
  let spawnError: Error | undefined;
  child.once('error', (e) => {
    spawnError = e;
  });
  child.stderr?.setEncoding('utf8').on('data', (d: string) => {
    log = (log + d).slice(-20_000);
  });
  const exited = new Promise<void>((res) => child.once('exit', () => res()));
  const alive = () => child.exitCode === null && child.signalCode === null;
  const kill = async (signal: NodeJS.Signals) => {
    if (alive()) {
      child.kill(signal);
      const t = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(t);
    }
    running.delete(child);
  };
  const stop = async () => {
    await kill('SIGTERM');
    await rm(dir, { recursive: true, force: true });
  };
  try {
    // nats-server writes nats-server_<pid>.ports once it listens: {"nats":["nats://127.0.0.1:PORT"]}.
    const url = await waitFor(
      async () => {
        if (spawnError) throw spawnError;
        if (!alive()) throw new Error(`nats-server exited (${child.exitCode ?? child.signalCode})`);
        const file = (await readdir(dir)).find((f) => f.endsWith('.ports'));
        if (!file) return undefined;
        const ports = JSON.parse(await readFile(join(dir, file), 'utf8')) as { nats?: string[] };
        return ports.nats?.[0];
      },
      { timeoutMs: 10_000, message: `nats-server ${name} writes its ports file` },
    );
    return { name, url, pid: child.pid!, dir, kill: () => kill('SIGKILL'), stop, log: () => log };
  } catch (e) {
    await stop();
    throw new Error(`nats-server ${name} did not start: ${(e as Error).message}\n${log}`);
  }
}

/**
 * JetStream answers; in a cluster, a meta leader was elected and enough servers joined to place a stream
 * with one replica per server (checked by creating and deleting one).
 */
async function waitJetStream(
  urls: string[],
  servers: NatsServer[] = [],
  security?: NatsSecurity,
): Promise<void> {
  const nc = await connect({ servers: urls, reconnect: false, ...(security ? secureClient(security) : {}) });
  try {
    const jsm = await jetstreamManager(nc, { checkAPI: false });
    await waitFor(
      async () => {
        await jsm.getAccountInfo();
        if (servers.length < 2) return true;
        await jsm.streams.add({
          name: 'BATON_READY',
          subjects: ['baton.ready'],
          num_replicas: servers.length,
        });
        await jsm.streams.delete('BATON_READY');
        return true;
      },
      { timeoutMs: 30_000, intervalMs: 100, message: `JetStream ready on ${urls.join(', ')}` },
    ).catch((e: Error) => {
      throw new Error(`${e.message}\n${servers.map((s) => `--- ${s.name}\n${s.log()}`).join('\n')}`);
    });
  } finally {
    await nc.close();
  }
}
