import { jetstream } from '@nats-io/jetstream';
import { type KV, Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { checkToken } from '../store/check.js';
import { withRetry } from '../store/nats/errors.js';
import type { SlotState, Transition } from './machine.js';

/** One instance slot of a service on a node, as `baton nodes` / `status --cluster` show it. */
export interface SlotStatus {
  slot: number;
  state: SlotState;
  available: Transition[];
  instance: string | null;
  revision: number | null;
  healthy: boolean;
  registered: boolean;
  restarts: number;
}

export interface ServiceOnNode {
  service: string;
  desired: number;
  slots: SlotStatus[];
}

/** What an agent publishes about its node, refreshed within the bucket's max age. */
export interface NodeStatus {
  node: string;
  pid: number;
  at: string;
  startedAt: string;
  services: ServiceOnNode[];
}

const RETRY = { deadlineMs: 10_000 };

/**
 * Node status entries in KV bucket `baton-nodes`, whose max age is the TTL (as registrations): an agent
 * re-writes its entry well within it, so the live nodes are the keys present. A dead agent's entry ages
 * out.
 */
export class NodeStatusBucket {
  private constructor(
    private readonly kv: KV,
    readonly ttlMs: number,
  ) {}

  static async open(
    nc: NatsConnection,
    opts: { ttlMs: number; replicas: number },
  ): Promise<NodeStatusBucket> {
    const kv = await withRetry('open node status bucket', RETRY, () =>
      new Kvm(jetstream(nc)).create('baton-nodes', {
        history: 1,
        ttl: opts.ttlMs,
        replicas: opts.replicas,
        allow_direct: false,
      }),
    );
    const status = await withRetry('read node status bucket', RETRY, () => kv.status());
    return new NodeStatusBucket(kv, status.ttl || opts.ttlMs);
  }

  async put(s: NodeStatus): Promise<void> {
    checkToken(s.node, 'node name');
    await withRetry(`publish status of ${s.node}`, RETRY, () => this.kv.put(s.node, JSON.stringify(s)));
  }

  async remove(node: string): Promise<void> {
    await withRetry(`remove status of ${node}`, RETRY, () => this.kv.delete(node));
  }

  /** Every live node's status, by name. */
  async list(): Promise<NodeStatus[]> {
    return withRetry('list nodes', RETRY, async () => {
      const keys: string[] = [];
      for await (const k of await this.kv.keys()) keys.push(k);
      const entries = await Promise.all(keys.map((k) => this.kv.get(k)));
      return entries
        .filter((e) => e && e.operation === 'PUT')
        .map((e) => e!.json<NodeStatus>())
        .sort((a, b) => (a.node < b.node ? -1 : 1));
    });
  }
}
