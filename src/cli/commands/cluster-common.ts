import { userInfo } from 'node:os';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Command } from 'commander';
import { replicasFor } from '../../agent/governors.js';
import { InputError } from '../../core/errors.js';
import { connectNats, natsAuthFromEnv } from '../../store/nats/connect.js';
import { NatsStore } from '../../store/nats/nats-store.js';

export interface ClusterFlags {
  nats?: string;
  natsCreds?: string;
  natsTlsCa?: string;
}

/**
 * Adds `--nats URL` (comma-separated for several servers; env BATON_NATS) and how to authenticate:
 * `--nats-creds FILE`, `--nats-tls-ca FILE`, or BATON_NATS_USER/BATON_NATS_PASSWORD, BATON_NATS_TOKEN.
 */
export function natsOption(cmd: Command): Command {
  return cmd
    .option('--nats <urls>', 'NATS server URL(s), comma-separated (env BATON_NATS)')
    .option(
      '--nats-creds <file>',
      'NATS credentials file (env BATON_NATS_CREDS; or BATON_NATS_USER/PASSWORD, BATON_NATS_TOKEN)',
    )
    .option(
      '--nats-tls-ca <file>',
      "PEM of the CA that signed the NATS servers' certificates (env BATON_NATS_TLS_CA)",
    );
}

export function natsServers(flags: ClusterFlags): string[] {
  const v = flags.nats ?? process.env.BATON_NATS;
  if (!v)
    throw new InputError('cluster mode needs the NATS servers: --nats nats://host:4222 or env BATON_NATS');
  return v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

export interface ClusterConn {
  nc: NatsConnection;
  store: NatsStore;
  replicas: number;
  close(): Promise<void>;
}

/** Connects for a one-shot command; buckets it creates get 3 replicas on a cluster, 1 on one server. */
export async function clusterConn(flags: ClusterFlags): Promise<ClusterConn> {
  const nc = await connectNats({
    servers: natsServers(flags),
    name: 'baton-cli',
    auth: natsAuthFromEnv(flags),
  });
  const replicas = replicasFor(nc);
  try {
    const store = await NatsStore.open(nc, { replicas });
    return { nc, store, replicas, close: async () => void (await nc.close().catch(() => undefined)) };
  } catch (e) {
    await nc.close();
    throw e;
  }
}

/** Runs `fn` on a cluster connection, closed afterwards whatever happens. */
export async function withCluster<T>(flags: ClusterFlags, fn: (c: ClusterConn) => Promise<T>): Promise<T> {
  const c = await clusterConn(flags);
  try {
    return await fn(c);
  } finally {
    await c.close();
  }
}

export const actor = (): string => `cli:${userInfo().username}`;
