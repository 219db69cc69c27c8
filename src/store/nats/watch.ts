import type { KV, KvWatchEntry } from '@nats-io/kv';
import type { NatsConnection, QueuedIterator, Status } from '@nats-io/transport-node';

/** One change of a watched key: its new value, or its deletion. */
export type StoreChange<T> =
  | { op: 'put'; key: string; value: T; revision: number; initial: boolean; created: Date }
  | { op: 'delete'; key: string; revision: number; initial: boolean; created: Date };

/**
 * Changes under a key prefix, pushed by the server (a KV watch, not polling): first the current value of
 * every key (`initial: true`), then every write and delete as it happens. This is how agents pick up a
 * new desired revision or tag "in well under a second". Not part of `Store`: SQLite has no push.
 *
 * It outlives failovers: when the connection comes back (the watch's consumer may have died with its
 * server) or the watch ends, it starts again after the last revision it yielded. A key written several
 * times meanwhile yields only its last value (the bucket keeps one per key).
 */
export class StoreWatch<T> implements AsyncIterable<StoreChange<T>> {
  private iter: QueuedIterator<KvWatchEntry> | undefined;
  private statuses: AsyncIterable<Status> | undefined;
  private stopped = false;
  private seen = 0;

  private constructor(
    private readonly kv: KV,
    private readonly filter: string,
    private readonly prefix: string,
    private readonly startSeq: number,
  ) {}

  static async start<T>(nc: NatsConnection, kv: KV, prefix: string): Promise<StoreWatch<T>> {
    // A subject filter matches whole tokens only: filter on the prefix's complete tokens, then by prefix.
    const cut = prefix.lastIndexOf('.');
    const filter = cut < 0 ? '>' : `${prefix.slice(0, cut)}.>`;
    // What was written by the time the watch starts is "initial". (nats.js's own isUpdate flag is
    // not reliable here: it counts pending messages from a cached consumer info.)
    const startSeq = (await kv.status()).streamInfo.state.last_seq;
    const w = new StoreWatch<T>(kv, filter, prefix, startSeq);
    w.iter = await kv.watch({ key: filter });
    w.statuses = nc.status();
    void (async () => {
      for await (const st of w.statuses!) if (st.type === 'reconnect') w.iter?.stop();
    })().catch(() => undefined);
    return w;
  }

  async *[Symbol.asyncIterator](): AsyncIterator<StoreChange<T>> {
    while (!this.stopped) {
      if (this.iter) {
        try {
          for await (const e of this.iter) {
            if (e.revision <= this.seen) continue;
            this.seen = e.revision;
            if (!e.key.startsWith(this.prefix)) continue;
            const base = {
              key: e.key,
              revision: e.revision,
              initial: e.revision <= this.startSeq,
              // When the server stored it: the watch's lag is now minus this.
              created: e.created,
            };
            if (e.operation === 'PUT') yield { op: 'put', ...base, value: JSON.parse(e.string()) as T };
            else yield { op: 'delete', ...base };
          }
        } catch {
          // Ended with an error: start again below.
        }
      }
      if (this.stopped) return;
      await new Promise((r) => setTimeout(r, 500));
      this.iter = await this.kv
        .watch({ key: this.filter, resumeFromRevision: this.seen + 1 })
        .catch(() => undefined);
    }
  }

  stop(): void {
    this.stopped = true;
    this.iter?.stop();
    (this.statuses as { stop?: () => void } | undefined)?.stop?.();
  }
}
