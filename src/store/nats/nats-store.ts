import { type JetStreamClient, jetstream, jetstreamManager, PubHeaders } from '@nats-io/jetstream';
import { type KV, type KvEntry, Kvm } from '@nats-io/kv';
import { Empty, headers, type NatsConnection, nuid } from '@nats-io/transport-node';
import { ConflictError, InputError } from '../../core/errors.js';
import { checkKey, checkPrefix, checkToken, toJson } from '../check.js';
import type { Entry, LogRecord, Store } from '../store.js';
import { connectNats, type NatsConnectOptions } from './connect.js';
import {
  bounded,
  createRacing,
  isWrongLastSequence,
  type RetryOptions,
  translate,
  withRetry,
} from './errors.js';
import { NatsLogs } from './logs.js';
import { StoreWatch } from './watch.js';

export interface NatsStoreOptions {
  /** KV bucket name (default `baton`); the logs stream is `BATON_LOGS_<bucket>`. */
  bucket?: string;
  /** Replicas of the bucket and the logs stream when this store creates them: 1 (one server) or 3. */
  replicas?: number;
  /** How long one operation keeps retrying through a failover before UnavailableError (default 15 s). */
  deadlineMs?: number;
  /** How long one request may take (default 2 s). */
  timeoutMs?: number;
}

const LOST = Symbol('compare-and-set lost');

/**
 * The `Store` on JetStream KV, for cluster mode. Keys are KV keys as they are (Store keys are valid KV
 * keys); a revision is the KV revision, the bucket stream's sequence, so revisions grow on every write
 * across keys and are never reused after a delete (a delete writes a marker with a new sequence).
 * Compare-and-set is the server's: every write carries the expected last sequence of its key's subject.
 * Every write also carries a message id, kept across retries, so a write that timed out but landed is
 * answered "duplicate" when retried instead of being applied twice (or losing to itself).
 */
export class NatsStore implements Store {
  private closed = false;

  private constructor(
    private readonly nc: NatsConnection,
    private readonly ownsConnection: boolean,
    private readonly js: JetStreamClient,
    private readonly kv: KV,
    private readonly bucket: string,
    private readonly logs: NatsLogs,
    private readonly retry: RetryOptions,
    private readonly timeoutMs: number,
  ) {}

  /** Connects, creates the bucket and logs stream if missing; the store closes the connection on close. */
  static async connect(opts: NatsConnectOptions & NatsStoreOptions): Promise<NatsStore> {
    const nc = await connectNats(opts);
    try {
      return await NatsStore.open(nc, opts, true);
    } catch (e) {
      await nc.close();
      throw e;
    }
  }

  /** A store on an existing connection (shared with the governor and the registry of an agent). */
  static async open(
    nc: NatsConnection,
    opts: NatsStoreOptions = {},
    ownsConnection = false,
  ): Promise<NatsStore> {
    const bucket = opts.bucket ?? 'baton';
    checkToken(bucket, 'bucket name');
    const replicas = opts.replicas ?? 1;
    if (![1, 3, 5].includes(replicas)) throw new InputError(`replicas must be 1, 3 or 5, not ${replicas}`);
    const retry = { deadlineMs: opts.deadlineMs ?? 15_000 };
    const timeoutMs = opts.timeoutMs ?? 2000;
    const js = jetstream(nc, { timeout: timeoutMs });
    const { kv, logs } = await withRetry(`open bucket ${bucket}`, retry, async () => {
      const jsm = await jetstreamManager(nc, { timeout: timeoutMs });
      // history 1: the bucket keeps each key's current value (or delete marker) only. allow_direct off:
      // reads go to the stream leader, so a read after a write sees it, even on an R3 bucket.
      const kv = await createRacing(() =>
        new Kvm(js).create(bucket, { replicas, history: 1, allow_direct: false, timeout: timeoutMs }),
      );
      const stream = `BATON_LOGS_${bucket}`;
      const prefix = `baton.${bucket}.log`;
      await createRacing(() => NatsLogs.ensure(jsm, stream, prefix, replicas));
      return { kv, logs: new NatsLogs(js, jsm, stream, prefix, retry, timeoutMs) };
    });
    return new NatsStore(nc, ownsConnection, js, kv, bucket, logs, retry, timeoutMs);
  }

  async get<T>(key: string): Promise<Entry<T> | undefined> {
    checkKey(key);
    this.open();
    const e = await withRetry(`get ${key}`, this.retry, () => this.kv.get(key));
    return live(e) ? decode<T>(e) : undefined;
  }

  async create<T>(key: string, value: T): Promise<number> {
    checkKey(key);
    const json = toJson(key, value);
    this.open();
    // A key that was deleted still has its delete marker as last message: create over that marker.
    const cur = await withRetry(`get ${key}`, this.retry, () => this.kv.get(key));
    const last = cur?.revision ?? 0;
    if (live(cur)) throw new ConflictError(key, null, cur.revision);
    const rev = await this.write(key, json, last);
    if (rev === LOST) throw new ConflictError(key, null, await this.revisionOf(key));
    return rev;
  }

  async update<T>(key: string, value: T, expected: number): Promise<number> {
    checkKey(key);
    const json = toJson(key, value);
    this.open();
    // The server compares with the subject's last sequence, which may be a delete marker's: check that
    // `expected` names a live value first. Once it does, the server's check alone is race-free.
    const cur = await withRetry(`get ${key}`, this.retry, () => this.kv.get(key));
    const actual = live(cur) ? cur.revision : null;
    if (actual !== expected) throw new ConflictError(key, expected, actual);
    const rev = await this.write(key, json, expected);
    if (rev === LOST) throw new ConflictError(key, expected, await this.revisionOf(key));
    return rev;
  }

  async delete(key: string, expected?: number): Promise<void> {
    checkKey(key);
    this.open();
    const cur = await withRetry(`get ${key}`, this.retry, () => this.kv.get(key));
    const actual = live(cur) ? cur.revision : null;
    if (expected !== undefined && actual !== expected) throw new ConflictError(key, expected, actual);
    if (actual === null) return;
    // Without `expected`, still only over what we saw: a concurrent write wins and we try again.
    const rev = await this.write(key, undefined, actual);
    if (rev !== LOST) return;
    if (expected !== undefined) throw new ConflictError(key, expected, await this.revisionOf(key));
    return this.delete(key);
  }

  async list<T>(prefix: string): Promise<Entry<T>[]> {
    checkPrefix(prefix);
    this.open();
    // A subject filter can only match whole tokens: filter on the complete tokens of the prefix and
    // keep the keys that start with it ("services.a" must match "services.ab" and "services.a-1").
    const cut = prefix.lastIndexOf('.');
    const filter = cut < 0 ? '>' : `${prefix.slice(0, cut)}.>`;
    const entries = await withRetry(`list ${prefix || '(all)'}`, this.retry, async () => {
      const latest = new Map<string, KvEntry>();
      // With history 1, "all history" is each key's last message (value or delete marker); a bucket made
      // with more history still works: later messages of a key replace earlier ones.
      const history = await this.kv.history({ key: filter });
      return bounded(
        this.timeoutMs * 5,
        () => history.stop(),
        async () => {
          for await (const e of history) latest.set(e.key, e);
          return [...latest.values()];
        },
      );
    });
    return entries
      .filter((e) => live(e) && e.key.startsWith(prefix))
      .map((e) => decode<T>(e))
      .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  /** Changes under `prefix`, pushed as they happen after the current values (see StoreWatch). */
  async watch<T>(prefix: string): Promise<StoreWatch<T>> {
    checkPrefix(prefix);
    this.open();
    return withRetry(`watch ${prefix || '(all)'}`, this.retry, () =>
      StoreWatch.start<T>(this.nc, this.kv, prefix),
    );
  }

  async append<T>(log: string, value: T): Promise<number> {
    checkKey(log, 'log name');
    const json = toJson(log, value);
    this.open();
    return this.logs.append(log, json);
  }

  async read<T>(log: string, opts: { from?: number; limit?: number } = {}): Promise<LogRecord<T>[]> {
    checkKey(log, 'log name');
    this.open();
    const from = Math.max(1, Math.floor(opts.from ?? 1));
    const limit = opts.limit === undefined ? -1 : Math.max(0, Math.floor(opts.limit));
    return (await this.logs.read(log, from, limit)) as LogRecord<T>[];
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.ownsConnection) await this.nc.close().catch(() => undefined);
  }

  /**
   * Publishes a value (or, for `undefined`, a delete marker) on the key's subject if the subject's last
   * sequence is `expected` (0: no message). Returns the new revision, or LOST when the compare failed.
   */
  private async write(
    key: string,
    json: string | undefined,
    expected: number,
  ): Promise<number | typeof LOST> {
    const msgID = nuid.next();
    return withRetry(`write ${key}`, this.retry, async () => {
      const h = headers();
      h.set(PubHeaders.ExpectedLastSubjectSequenceHdr, String(expected));
      if (json === undefined) h.set('KV-Operation', 'DEL');
      try {
        const ack = await this.js.publish(`$KV.${this.bucket}.${key}`, json ?? Empty, {
          msgID,
          headers: h,
          timeout: this.timeoutMs,
        });
        return ack.seq;
      } catch (e) {
        if (isWrongLastSequence(e)) return LOST;
        throw e;
      }
    });
  }

  /** The key's current revision for a conflict's message, or null when it has no value. */
  private async revisionOf(key: string): Promise<number | null> {
    try {
      const e = await this.kv.get(key);
      return live(e) ? e.revision : null;
    } catch {
      return null;
    }
  }

  private open(): void {
    if (this.closed) throw translate(new Error('store is closed'), 'use');
  }
}

function live(e: KvEntry | null | undefined): e is KvEntry {
  return !!e && e.operation === 'PUT';
}

function decode<T>(e: KvEntry): Entry<T> {
  return { key: e.key, value: JSON.parse(e.string()) as T, revision: e.revision };
}
