import {
  DiscardPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamClient,
  type JetStreamManager,
  jetstream,
  jetstreamManager,
  RetentionPolicy,
  type StreamConfig,
} from '@nats-io/jetstream';
import { type NatsConnection, nanos, nuid } from '@nats-io/transport-node';
import { InputError } from '../core/errors.js';
import { checkToken } from '../store/check.js';
import { isTransient, translate, withRetry } from '../store/nats/errors.js';
import { GovernorBusyError } from './governor-errors.js';

export interface GovernorConfig {
  /** How many leases may be held at once (the stream's MaxMsgs). */
  capacity: number;
  /** How long a lease lives unless released (the stream's MaxAge): a crashed holder's lease ends then. */
  expiryMs: number;
  /** Replicas of the stream: 1 for one server, 3 on a cluster. */
  replicas?: number;
}

export interface GovernorLease {
  governor: string;
  /** The lease's message: its stream sequence. */
  seq: number;
  holder: string;
  /** When the server stored it; the lease expires `expiryMs` later. */
  since: Date;
}

export interface AcquireOptions {
  /** Give up with GovernorBusyError after this long (default 5 min). */
  timeoutMs?: number;
  /** First wait after finding the governor full (default 100 ms); doubles up to `maxWaitMs`, jittered. */
  waitMs?: number;
  maxWaitMs?: number;
  signal?: AbortSignal;
}

/** The stream's MaxMsgs was reached: with discard-new the server refuses the publish. */
const FULL = 10077;

/**
 * Hoist's governor: a cluster-wide semaphore as a JetStream stream (`BATON_GOVERNOR_<name>`): capacity =
 * MaxMsgs, lease expiry = MaxAge, discard-new. Acquiring is publishing a message; a full stream refuses
 * it, so the caller waits (backoff with jitter) and tries again until its timeout. Releasing deletes the
 * message by sequence. A holder that dies never releases: its message ages out after MaxAge.
 *
 * A publish whose answer was lost (timeout, failover) may still have landed. It is repeated with the same
 * message id, so the server answers "duplicate" with the first sequence instead of granting a second
 * lease; the duplicate window is the expiry (capped at two minutes), which is as long as a lease lives.
 */
export class Governor {
  private readonly js: JetStreamClient;
  readonly stream: string;
  readonly subject: string;

  private constructor(
    readonly name: string,
    private readonly jsm: JetStreamManager,
    nc: NatsConnection,
  ) {
    this.js = jetstream(nc);
    this.stream = `BATON_GOVERNOR_${name}`;
    this.subject = `baton.governor.${name}`;
  }

  /** The governor `name` (it must exist: see `add`). */
  static async open(nc: NatsConnection, name: string): Promise<Governor> {
    checkToken(name, 'governor name');
    return new Governor(name, await jetstreamManager(nc, { checkAPI: false }), nc);
  }

  /** Creates the governor, or changes its capacity and expiry if it exists (at once: see `set`). */
  static async add(nc: NatsConnection, name: string, config: GovernorConfig): Promise<Governor> {
    const g = await Governor.open(nc, name);
    await withRetry(`add governor ${name}`, { deadlineMs: 15_000 }, async () => {
      try {
        await g.jsm.streams.info(g.stream);
        await g.set(config);
      } catch (e) {
        if (!(e instanceof JetStreamApiError && e.code === JetStreamApiCodes.StreamNotFound)) throw e;
        await g.jsm.streams.add({
          name: g.stream,
          subjects: [g.subject],
          num_replicas: config.replicas ?? 1,
          ...limits(config),
        });
      }
    });
    return g;
  }

  /**
   * Changes capacity and/or expiry, at once. Lowering the capacity below the number held makes the server
   * drop the oldest leases (it enforces MaxMsgs on the stream as it is): their holders are not told, so
   * a holder checks `holds(lease)` before each step it takes under the lease.
   */
  async set(config: Partial<Omit<GovernorConfig, 'replicas'>>): Promise<void> {
    await withRetry(`set governor ${this.name}`, { deadlineMs: 15_000 }, async () => {
      const cur = (await this.jsm.streams.info(this.stream)).config;
      const next = limits({
        capacity: config.capacity ?? cur.max_msgs,
        expiryMs: config.expiryMs ?? cur.max_age / 1e6,
      });
      await this.jsm.streams.update(this.stream, { ...cur, ...next } as StreamConfig);
    });
  }

  async config(): Promise<{ capacity: number; expiryMs: number; held: number }> {
    const info = await withRetry(`read governor ${this.name}`, { deadlineMs: 15_000 }, () =>
      this.jsm.streams.info(this.stream),
    );
    return { capacity: info.config.max_msgs, expiryMs: info.config.max_age / 1e6, held: info.state.messages };
  }

  /** Waits for a free slot and takes it; throws GovernorBusyError when `timeoutMs` passes first. */
  async acquire(holder: string, opts: AcquireOptions = {}): Promise<GovernorLease> {
    const timeoutMs = opts.timeoutMs ?? 300_000;
    const deadline = Date.now() + timeoutMs;
    const msgID = `${holder}.${nuid.next()}`.replace(/[^A-Za-z0-9_.-]/g, '_');
    const body = JSON.stringify({ holder, at: new Date().toISOString() });
    for (let i = 0; ; i++) {
      opts.signal?.throwIfAborted();
      try {
        const ack = await this.js.publish(this.subject, body, { msgID, timeout: 2000 });
        return { governor: this.name, seq: ack.seq, holder, since: new Date() };
      } catch (e) {
        const full = e instanceof JetStreamApiError && e.code === FULL;
        if (!full && !isTransient(e)) throw translate(e, `acquire governor ${this.name}`);
      }
      const base = Math.min(opts.maxWaitMs ?? 1000, (opts.waitMs ?? 100) * 2 ** i);
      const pause = base * (0.5 + Math.random() / 2);
      if (Date.now() + pause >= deadline) {
        throw new GovernorBusyError(this.name, timeoutMs, await this.list().catch(() => []));
      }
      await new Promise((r) => setTimeout(r, pause));
    }
  }

  /** Ends a lease. One that already expired (or was reset) is not an error. */
  async release(lease: Pick<GovernorLease, 'seq'>): Promise<void> {
    await withRetry(`release governor ${this.name}`, { deadlineMs: 15_000 }, async () => {
      try {
        await this.jsm.streams.deleteMessage(this.stream, lease.seq, false);
      } catch (e) {
        if (e instanceof JetStreamApiError && /no message found|not found/i.test(e.message)) return;
        throw e;
      }
    });
  }

  /** Whether `lease` is still held: not released, expired, reset, or dropped by a lower capacity. */
  async holds(lease: Pick<GovernorLease, 'seq'>): Promise<boolean> {
    return withRetry(`read governor ${this.name}`, { deadlineMs: 15_000 }, async () => {
      const m = await this.jsm.streams.getMessage(this.stream, { seq: lease.seq });
      return m !== null;
    });
  }

  /**
   * The leases held now, oldest first. The stream holds at most `capacity` messages, so each is read by
   * its sequence: the ones between first and last that the stream does not list as deleted.
   */
  async list(): Promise<GovernorLease[]> {
    return withRetry(`list governor ${this.name}`, { deadlineMs: 15_000 }, async () => {
      const { state } = await this.jsm.streams.info(this.stream, { deleted_details: true });
      if (state.messages === 0) return [];
      const deleted = new Set(state.deleted ?? []);
      const seqs: number[] = [];
      for (let seq = state.first_seq; seq <= state.last_seq; seq++) if (!deleted.has(seq)) seqs.push(seq);
      const found = await Promise.all(seqs.map((seq) => this.jsm.streams.getMessage(this.stream, { seq })));
      return found
        .filter((m) => m !== null)
        .map((m) => ({
          governor: this.name,
          seq: m.seq,
          holder: m.json<{ holder: string }>().holder,
          since: m.time,
        }));
    });
  }

  /** Drops every lease (an operator's escape hatch, as `choria governor reset`). */
  async reset(): Promise<void> {
    await withRetry(`reset governor ${this.name}`, { deadlineMs: 15_000 }, () =>
      this.jsm.streams.purge(this.stream),
    );
  }

  /** Deletes the governor. */
  async remove(): Promise<void> {
    await withRetry(`remove governor ${this.name}`, { deadlineMs: 15_000 }, () =>
      this.jsm.streams.delete(this.stream),
    );
  }
}

function limits(config: { capacity: number; expiryMs: number }): Partial<StreamConfig> {
  if (!Number.isInteger(config.capacity) || config.capacity < 1) {
    throw new InputError(`governor capacity must be a whole number of at least 1, not ${config.capacity}`);
  }
  if (!(config.expiryMs >= 1000)) {
    throw new InputError(`governor lease expiry must be at least 1 s, not ${config.expiryMs} ms`);
  }
  return {
    retention: RetentionPolicy.Limits,
    discard: DiscardPolicy.New,
    max_msgs: config.capacity,
    max_age: nanos(config.expiryMs),
    // The server requires the duplicate window to be no longer than MaxAge.
    duplicate_window: nanos(Math.min(config.expiryMs, 120_000)),
  };
}
