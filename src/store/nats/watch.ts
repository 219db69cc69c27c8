import type { KV, KvWatchEntry } from '@nats-io/kv';
import type { QueuedIterator } from '@nats-io/transport-node';

/** One change of a watched key: its new value, or its deletion. */
export type StoreChange<T> =
  | { op: 'put'; key: string; value: T; revision: number; initial: boolean }
  | { op: 'delete'; key: string; revision: number; initial: boolean };

/**
 * Changes under a key prefix, pushed by the server (a KV watch, not polling): first the current value of
 * every key (`initial: true`), then every write and delete as it happens. This is how agents pick up a
 * new desired revision or tag "in well under a second". Not part of `Store`: SQLite has no push.
 */
export class StoreWatch<T> implements AsyncIterable<StoreChange<T>> {
  private constructor(
    private readonly iter: QueuedIterator<KvWatchEntry>,
    private readonly prefix: string,
    private readonly startSeq: number,
  ) {}

  static async start<T>(kv: KV, prefix: string): Promise<StoreWatch<T>> {
    // A subject filter matches whole tokens only: filter on the prefix's complete tokens, then by prefix.
    const cut = prefix.lastIndexOf('.');
    const filter = cut < 0 ? '>' : `${prefix.slice(0, cut)}.>`;
    // What was written by the time the watch starts is "initial". (nats.js's own isUpdate flag is
    // not reliable here: it counts pending messages from a cached consumer info.)
    const startSeq = (await kv.status()).streamInfo.state.last_seq;
    return new StoreWatch<T>(await kv.watch({ key: filter }), prefix, startSeq);
  }

  async *[Symbol.asyncIterator](): AsyncIterator<StoreChange<T>> {
    for await (const e of this.iter) {
      if (!e.key.startsWith(this.prefix)) continue;
      const base = { key: e.key, revision: e.revision, initial: e.revision <= this.startSeq };
      if (e.operation === 'PUT') yield { op: 'put', ...base, value: JSON.parse(e.string()) as T };
      else yield { op: 'delete', ...base };
    }
  }

  stop(): void {
    this.iter.stop();
  }
}
