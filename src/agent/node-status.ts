import { type JetStreamManager, jetstream, jetstreamManager } from '@nats-io/jetstream';
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
const BUCKET = 'baton-nodes';
const STREAM = `KV_${BUCKET}`;
const SUBJECT_PREFIX = `$KV.${BUCKET}.`;

/**
 * Node status entries in KV bucket `baton-nodes`, whose max age is the TTL (as registrations): an agent
 * re-writes its entry well within it, so the live nodes are the keys present. A dead agent's entry ages
 * out.
 */
export class NodeStatusBucket {
  private constructor(
    private readonly kv: KV,
    private readonly jsm: JetStreamManager,
    readonly ttlMs: number,
  ) {}

  static async open(
    nc: NatsConnection,
    opts: { ttlMs: number; replicas: number },
  ): Promise<NodeStatusBucket> {
    const kv = await withRetry('open node status bucket', RETRY, () =>
      new Kvm(jetstream(nc)).create(BUCKET, {
        history: 1,
        ttl: opts.ttlMs,
        replicas: opts.replicas,
        allow_direct: false,
      }),
    );
    const status = await withRetry('read node status bucket', RETRY, () => kv.status());
    const jsm = await withRetry('open node status bucket', RETRY, () => jetstreamManager(nc));
    return new NodeStatusBucket(kv, jsm, status.ttl || opts.ttlMs);
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
      // The keys from the stream's subjects, not from a consumer (kv.keys): for a while after a NATS server
      // dies a client may be unable to create consumers while plain API requests work, and an updating
      // agent waits on this list (every live node must confirm a drain).
      const info = await this.jsm.streams.info(STREAM, { subjects_filter: `${SUBJECT_PREFIX}>` });
      const keys = Object.keys(info.state.subjects ?? {}).map((s) => s.slice(SUBJECT_PREFIX.length));
      const entries = await Promise.all(keys.map((k) => this.kv.get(k)));
      // An entry older than the max age is a dead agent's that the server has not removed yet: after a
      // server dies, the stream's new leader can keep expired messages for a minute or more, and an
      // updating agent would wait for the dead node's drain confirmation all that time. Judged by the
      // server's own write time.
      const now = Date.now();
      return entries
        .filter((e) => e && e.operation === 'PUT' && now - e.created.getTime() <= this.ttlMs)
        .map((e) => e!.json<NodeStatus>())
        .sort((a, b) => (a.node < b.node ? -1 : 1));
    });
  }
}
