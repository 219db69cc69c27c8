import type { Command } from 'commander';
import { DESIRED_PREFIX, type Desired, readDesired } from '../../agent/desired.js';
import { type NodeStatus, NodeStatusBucket } from '../../agent/node-status.js';
import { action, type Io, stdio } from '../context.js';
import { type ClusterConn, natsOption, withCluster } from './cluster-common.js';

async function readNodes(c: ClusterConn): Promise<NodeStatus[]> {
  // The bucket exists once an agent ran; its TTL is the agents' (an existing bucket keeps its own).
  const bucket = await NodeStatusBucket.open(c.nc, { ttlMs: 60_000, replicas: c.replicas });
  return bucket.list();
}

const count = <T>(items: T[], key: (t: T) => string): string =>
  Object.entries(
    items.reduce<Record<string, number>>((m, t) => {
      m[key(t)] = (m[key(t)] ?? 0) + 1;
      return m;
    }, {}),
  )
    .map(([k, n]) => `${k}: ${n}`)
    .join(', ');

export function registerNodes(program: Command, io: Io = stdio): void {
  natsOption(
    program
      .command('nodes')
      .description('cluster mode: the live agents, their instances by state and revision')
      .option('--json', 'print as JSON'),
  ).action(
    action(async (opts: { nats?: string; json?: boolean }) => {
      const nodes = await withCluster(opts, readNodes);
      if (opts.json) {
        io.out(JSON.stringify({ nodes }, null, 2));
        return 0;
      }
      if (nodes.length === 0) io.out('no live agents (baton agent --nats … --node NAME)');
      for (const n of nodes) {
        const slots = n.services.flatMap((s) => s.slots);
        io.out(
          `${n.node}  pid ${n.pid}  seen ${n.at}  ${n.services.length} service(s)  states {${count(slots, (s) => s.state)}}  revisions {${count(slots, (s) => `r${s.revision ?? '-'}`)}}`,
        );
      }
      return 0;
    }),
  );
}

export interface ClusterServiceStatus {
  service: string;
  desired: Desired | null;
  nodes: Array<{ node: string } & NodeStatus['services'][number]>;
}

/** `baton status --cluster`: per service, the desired state and every node's slots. */
export async function clusterStatus(
  flags: { nats?: string },
  service?: string,
): Promise<ClusterServiceStatus[]> {
  return withCluster(flags, async (c) => {
    const nodes = await readNodes(c);
    const names = service
      ? [service]
      : (await c.store.list<Desired>(DESIRED_PREFIX)).map((e) => e.key.slice(DESIRED_PREFIX.length));
    return Promise.all(
      names.map(async (name) => ({
        service: name,
        desired: (await readDesired(c.store, name))?.value ?? null,
        nodes: nodes.flatMap((n) =>
          n.services.filter((s) => s.service === name).map((s) => ({ node: n.node, ...s })),
        ),
      })),
    );
  });
}

export function printClusterStatus(io: Io, services: ClusterServiceStatus[]): void {
  if (services.length === 0) io.out('no services in the cluster yet (baton deploy --cluster)');
  for (const s of services) {
    const slots = s.nodes.flatMap((n) => n.slots);
    const serving = slots.filter((x) => x.state === 'RUN' && x.healthy && x.revision === s.desired?.revision);
    io.out(
      `${s.service}  desired r${s.desired?.revision ?? '-'}${s.desired?.reason ? ` (${s.desired.reason})` : ''}  ${serving.length}/${slots.length} serving it  states {${count(slots, (x) => x.state)}}`,
    );
    for (const n of s.nodes) {
      for (const x of n.slots) {
        io.out(
          `  ${n.node}  slot ${x.slot}  ${x.state}  ${x.instance ?? '-'}  r${x.revision ?? '-'}  ${x.healthy ? 'healthy' : 'unhealthy'}${x.registered ? ' registered' : ''}${x.restarts ? `  restarts ${x.restarts}` : ''}  can: ${x.available.join(', ')}`,
        );
      }
    }
  }
}
