import type { KV, KvEntry } from '@nats-io/kv';
import type { NatsConnection, QueuedIterator, Status } from '@nats-io/transport-node';
import { withRetry } from '../store/nats/errors.js';
import type { Registration } from './registry.js';

export interface ServiceQuery {
  cluster: string;
  service: string;
  /** Any protocol when omitted. */
  protocol?: string;
}

interface Held {
  reg: Registration;
  revision: number;
  timer: NodeJS.Timeout;
}

/**
 * The live registrations of one service, kept current from a KV watch (pushed by the server, not
 * polled). Deletes arrive on the watch; expiry does not: nats-server 2.9 removes an aged-out message
 * without telling watchers. So each entry gets a timer for when it should have aged out (its server
 * timestamp + the bucket's max age); when it fires, the server is asked, and the entry is dropped only
 * if the server no longer has that revision — a client clock ahead of the server's cannot drop a live
 * entry early.
 *
 * Iterate it (one reader) for the current set: first once the initial set is loaded, then after every
 * change; a slow reader gets the latest set, not every set in between.
 */
export class ServiceWatch implements AsyncIterable<Registration[]> {
  private readonly held = new Map<string, Held>();
  private watcher: QueuedIterator<KvEntry> | undefined;
  private version = 0;
  private wake: (() => void) | undefined;
  private stopped = false;
  private statuses: AsyncIterable<Status> | undefined;
  /** The highest revision applied: where a restarted watch resumes. */
  private seen = 0;

  private constructor(
    private readonly kv: KV,
    private readonly ttlMs: number,
  ) {}

  static async start(nc: NatsConnection, kv: KV, q: ServiceQuery, ttlMs: number): Promise<ServiceWatch> {
    const w = new ServiceWatch(kv, ttlMs);
    const filter = `${q.cluster}.${q.protocol ?? '*'}.${q.service}.*`;
    // Load what is there, then watch from just after it, so the first set is complete (a watch alone
    // cannot say when its initial values are done when there are none).
    const last = (await withRetry('read registry', { deadlineMs: 10_000 }, () => kv.status())).streamInfo
      .state.last_seq;
    for await (const e of await kv.history({ key: filter })) w.apply(e);
    w.seen = Math.max(w.seen, last);
    w.watcher = await kv.watch({ key: filter, resumeFromRevision: last + 1 });
    void w.follow(filter);
    // After a reconnect the watch's consumer may have died with the server that hosted it; nats.js would
    // notice only after two missed heartbeats (10 s and more). Start it again at once instead.
    w.statuses = nc.status();
    void (async () => {
      for await (const st of w.statuses!) if (st.type === 'reconnect') w.watcher?.stop();
    })().catch(() => undefined);
    return w;
  }

  /**
   * Applies what the watch delivers; whenever the watch ends (stopped after a reconnect, or its consumer
   * lost), it is started again after the last revision seen.
   */
  private async follow(filter: string): Promise<void> {
    while (!this.stopped) {
      try {
        for await (const e of this.watcher!) this.apply(e);
      } catch {
        // Ended with an error: start again below.
      }
      if (this.stopped) return;
      await new Promise((r) => setTimeout(r, 500));
      try {
        this.watcher = await this.kv.watch({ key: filter, resumeFromRevision: this.seen + 1 });
      } catch {
        // Not reachable now: try again.
      }
    }
  }

  /** The live registrations now, by priority then instance. */
  current(): Registration[] {
    return [...this.held.values()]
      .map((h) => h.reg)
      .sort((a, b) => a.priority - b.priority || (a.instance < b.instance ? -1 : 1));
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Registration[]> {
    let seen = -1;
    while (!this.stopped) {
      if (seen !== this.version) {
        seen = this.version;
        yield this.current();
        continue;
      }
      await new Promise<void>((r) => {
        this.wake = r;
      });
    }
  }

  stop(): void {
    this.stopped = true;
    this.watcher?.stop();
    (this.statuses as { stop?: () => void } | undefined)?.stop?.();
    for (const h of this.held.values()) clearTimeout(h.timer);
    this.held.clear();
    this.changed();
  }

  private apply(e: KvEntry): void {
    if (this.stopped) return;
    this.seen = Math.max(this.seen, e.revision);
    const prev = this.held.get(e.key);
    if (prev && prev.revision >= e.revision) return;
    if (prev) clearTimeout(prev.timer);
    if (e.operation !== 'PUT') {
      if (prev) this.drop(e.key);
      return;
    }
    const reg = e.json<Registration>();
    const dueIn = e.created.getTime() + this.ttlMs - Date.now();
    const timer = setTimeout(() => void this.check(e.key, e.revision), Math.max(0, dueIn) + 50);
    this.held.set(e.key, { reg, revision: e.revision, timer });
    this.changed();
  }

  /** The entry should have aged out: drop it if the server no longer has this revision. */
  private async check(key: string, revision: number): Promise<void> {
    const h = this.held.get(key);
    if (!h || h.revision !== revision || this.stopped) return;
    let gone = false;
    try {
      // A newer value means a refresh the watch has not delivered yet: keep this one until it does.
      gone = (await this.kv.get(key))?.operation !== 'PUT';
    } catch {
      // Cannot ask now: keep the entry and ask again shortly.
    }
    if (gone) {
      if (this.held.get(key)?.revision === revision) this.drop(key);
      return;
    }
    h.timer = setTimeout(() => void this.check(key, revision), Math.min(1000, this.ttlMs / 10));
  }

  private drop(key: string): void {
    const h = this.held.get(key);
    if (h) clearTimeout(h.timer);
    this.held.delete(key);
    this.changed();
  }

  private changed(): void {
    this.version++;
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }
}
