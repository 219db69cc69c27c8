import { join } from 'node:path';
import { Registry } from '../cluster/registry.js';
import { securePrivateTree } from '../core/private-state.js';
import { AgentMetrics } from '../metrics/agent-metrics.js';
import { createMultiRouter } from '../router/create.js';
import { createMultiRuntime } from '../runtime/create.js';
import { clusterOf } from '../spec/cluster.js';
import { connectNats } from '../store/nats/connect.js';
import { NatsStore } from '../store/nats/nats-store.js';
import { Repo } from '../store/repo.js';
import { Agent, type AgentOptions } from './agent.js';
import { eventLog } from './events.js';
import { RegistryFollower } from './follower.js';
import { GovernorCache, replicasFor } from './governors.js';
import { NodeStatusBucket } from './node-status.js';
import type { AgentDeps } from './slot.js';

/** `baton agent`: connects to NATS, opens the buckets, wires runtime, router and metrics, and runs the agent. */
export async function startAgent(o: AgentOptions): Promise<Agent> {
  // Owner-only whatever existed before (refused when another user owns it): records, logs, proxy state.
  const tightened = securePrivateTree(o.dataDir);
  if (tightened.length)
    o.logger.warn(
      { dataDir: o.dataDir, paths: tightened },
      'state files were readable by others: made owner-only',
    );
  const nc = await connectNats({ servers: o.nats, name: `baton-agent-${o.node}`, auth: o.natsAuth });
  const replicas = replicasFor(nc);
  const ttlMs = o.ttlMs ?? 60_000;
  const store = await NatsStore.open(nc, { replicas });
  const registry = await Registry.open(nc, { ttlMs, replicas });
  const nodes = await NodeStatusBucket.open(nc, { ttlMs, replicas });
  const runtime = createMultiRuntime({ dataDir: o.dataDir, logger: o.logger });
  const router = createMultiRouter({ dataDir: o.dataDir, logger: o.logger });
  const follower = new RegistryFollower({
    node: o.node,
    registry,
    router,
    dataDir: o.dataDir,
    logger: o.logger,
    listenOffset: o.listenOffset ?? 0,
    cluster: (spec) => clusterOf(spec).register.cluster,
  });
  let agent: Agent | undefined;
  const metrics = new AgentMetrics(
    o.node,
    o.dataDir,
    () => runtime.list(),
    () => agent?.services() ?? [],
  );
  const deps: AgentDeps = {
    node: o.node,
    dataDir: o.dataDir,
    runtime,
    registry,
    governors: new GovernorCache(nc, replicas),
    store,
    repo: new Repo(store),
    emit: metrics.counting(eventLog(join(o.dataDir, 'agent', 'events.jsonl'), o.node, o.logger)),
    leases: metrics,
    logger: o.logger,
    drainEverywhere: (req, attemptMs) => agent!.drainEverywhere(req, attemptMs),
    changed: () => agent?.markChanged(),
  };
  agent = new Agent(o, nc, store, deps, follower, nodes, router, runtime, metrics);
  await agent.run();
  return agent;
}
