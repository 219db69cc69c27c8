import cluster, { type Worker } from 'node:cluster';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import { BatonError, DriverError, type ErrorCode } from '../../core/errors.js';
import type { DrainResult, RouteStatus } from '../router.js';
import { answerAcceptHandles } from './accept-handles.js';
import { forgetInherited } from './handoff/inherit.js';
import { StatusMerger } from './merge.js';
import type { Change, FromWorker, ToWorker, WorkerSettings } from './ops.js';
import type { Snapshot } from './snapshot.js';

type Reply = Extract<FromWorker, { t: 'reply' }>;
/** A worker that exited before answering; one that did not answer in time. */
const GONE = 'gone';
const LATE = 'late';
type Outcome = Reply | typeof GONE | typeof LATE;

interface Member {
  worker: Worker;
  pid: number;
  startedAt: number;
  /** Got its snapshot: every later change is relayed to it. */
  joined: boolean;
  /** Applied its snapshot: it listens and serves. */
  serving: boolean;
  pending: Map<number, (o: Outcome) => void>;
  /** Its status as last reported (its counters are kept when it dies). */
  last: RouteStatus[] | undefined;
  /** Listening handles it sent for a `handles` request. */
  handles: Array<{ listen: string; handle: ListenHandle }>;
}

/** A raw listening socket (a libuv TCP handle) as received over IPC: its descriptor, and close. */
export interface ListenHandle {
  fd: number;
  close(): void;
}

export interface FleetOptions {
  size: number;
  /** The worker's entry script. */
  entry: string;
  log: Logger;
  logLevel: string;
  /** Given to each worker as it starts (a function: the inherited sockets change as routes go). */
  settings: () => WorkerSettings;
  /** Runs `fn` between two admin changes, so a new worker's snapshot and the changes after it line up. */
  exclusive(fn: () => void): Promise<void>;
  snapshot(): Snapshot;
}

const START_DEADLINE_MS = 15_000;
const CHANGE_DEADLINE_MS = 10_000;
const KILL_GRACE_MS = 2000;

/**
 * The proxy's data path as N worker processes (node:cluster). The primary keeps the admin socket and the
 * snapshot; it relays every change to every worker and a change returns only once every worker applied
 * it, so after `switchTo` or `drain` no worker sends a new request to a draining backend.
 *
 * Listeners are shared with `SCHED_NONE`: the primary binds each address once and hands the socket to the
 * workers, which all accept on it (the kernel spreads connections). The default round-robin policy
 * would make the primary accept every connection and pass it over IPC — a second hop per connection,
 * and the primary's one core in the path. Plain child processes with handles passed by hand would work
 * too, but cluster already shares one bound socket per address and removes it with its last worker.
 *
 * A worker that dies is forked again and gets the current snapshot. When the primary dies, its workers
 * see the IPC channel close, stop accepting, finish what they carry (at most the shutdown timeout) and
 * exit (worker.ts), so no worker outlives it for longer.
 */
export class Fleet {
  private readonly members = new Set<Member>();
  private readonly merger = new StatusMerger();
  private seq = 0;
  private closing = false;
  private crashes = 0;

  constructor(private readonly opts: FleetOptions) {
    cluster.schedulingPolicy = cluster.SCHED_NONE;
    cluster.setupPrimary({ exec: opts.entry, args: [], silent: false });
  }

  /** Forks the workers; resolves once each one serves the snapshot. */
  async start(): Promise<void> {
    await Promise.all(Array.from({ length: this.opts.size }, () => this.spawn()));
  }

  /** Pids of the workers that serve (a replacement shows up once it applied its snapshot). */
  get pids(): number[] {
    return [...this.members].filter((m) => m.serving).map((m) => m.pid);
  }

  private spawn(): Promise<void> {
    const worker = cluster.fork({ BATON_PROXY_LOG_LEVEL: this.opts.logLevel });
    const m: Member = {
      worker,
      pid: worker.process.pid ?? 0,
      startedAt: Date.now(),
      joined: false,
      serving: false,
      pending: new Map(),
      last: undefined,
      handles: [],
    };
    this.members.add(m);
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new DriverError('proxy', `worker pid ${m.pid} did not start in ${START_DEADLINE_MS} ms`));
        worker.process.kill('SIGKILL');
      }, START_DEADLINE_MS);
      worker.on('message', (msg: FromWorker, handle: unknown) => {
        if (answerAcceptHandles(worker, msg, handle)) return;
        if (msg.t === 'handle') {
          if (handle) m.handles.push({ listen: msg.listen, handle: handle as ListenHandle });
          return;
        }
        if (msg.t === 'reply') {
          const settle = m.pending.get(msg.seq);
          m.pending.delete(msg.seq);
          settle?.(msg);
          return;
        }
        if (msg.t !== 'hello') return;
        // The snapshot is taken and sent between two changes: every later change reaches this worker.
        void this.opts.exclusive(() => {
          if (!this.members.has(m) || this.closing) return;
          m.joined = true;
          const init = this.ask(m, (seq) => ({
            t: 'init',
            seq,
            snapshot: this.opts.snapshot(),
            settings: this.opts.settings(),
          }));
          void init.then((o) => {
            clearTimeout(timer);
            if (typeof o !== 'string' && o.error === undefined) {
              m.serving = true;
              this.opts.log.info({ workerPid: m.pid }, 'proxy worker serving');
              resolve();
            } else reject(new DriverError('proxy', `worker pid ${m.pid} failed to start: ${describe(o)}`));
          });
        });
      });
      worker.on('exit', (code, signal) => {
        clearTimeout(timer);
        this.gone(m, code, signal);
        reject(new DriverError('proxy', `worker pid ${m.pid} exited at start (${signal ?? `code ${code}`})`));
      });
    });
  }

  private gone(m: Member, code: number | null, signal: string | null): void {
    if (!this.members.delete(m)) return;
    for (const settle of m.pending.values()) settle(GONE);
    m.pending.clear();
    if (m.last) this.merger.retire(m.last);
    // With no worker left, node:cluster closed the shared sockets, inherited descriptors included.
    if (this.members.size === 0) forgetInherited();
    if (this.closing) return;
    const lived = Date.now() - m.startedAt;
    this.crashes = lived < 2000 ? this.crashes + 1 : 0;
    const delay = this.crashes === 0 ? 0 : Math.min(100 * 2 ** this.crashes, 5000);
    this.opts.log.error(
      { workerPid: m.pid, code, signal, respawnInMs: delay },
      'proxy worker exited; starting another with the current snapshot',
    );
    setTimeout(() => {
      if (!this.closing)
        this.spawn().catch((e: unknown) => this.opts.log.error({ err: e }, 'proxy worker respawn failed'));
    }, delay).unref();
  }

  /** Sends one request to a worker; resolves with its reply, `gone` or (after `timeoutMs`) `late`. */
  private ask(m: Member, make: (seq: number) => ToWorker, timeoutMs?: number): Promise<Outcome> {
    const seq = ++this.seq;
    return new Promise<Outcome>((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      m.pending.set(seq, (o) => {
        clearTimeout(timer);
        resolve(o);
      });
      if (timeoutMs !== undefined) {
        timer = setTimeout(() => {
          m.pending.delete(seq);
          resolve(LATE);
        }, timeoutMs);
      }
      try {
        m.worker.send(make(seq));
      } catch {
        m.pending.delete(seq);
        clearTimeout(timer);
        resolve(GONE);
      }
    });
  }

  private joined(): Member[] {
    return [...this.members].filter((m) => m.joined);
  }

  /**
   * Applies a change in every worker; throws the first error one of them reports. A worker that does not
   * answer within `CHANGE_DEADLINE_MS` is killed (and replaced with the snapshot), so when this returns no
   * serving worker runs without the change.
   */
  async apply(change: Change): Promise<void> {
    const members = this.joined();
    const out = await Promise.all(
      members.map((m) => this.ask(m, (seq) => ({ t: 'change', seq, change }), CHANGE_DEADLINE_MS)),
    );
    out.forEach((o, i) => {
      if (o !== LATE) return;
      const m = members[i]!;
      this.opts.log.error(
        { workerPid: m.pid, change: change.op },
        'proxy worker did not apply a change; killing it',
      );
      m.worker.process.kill('SIGKILL');
    });
    for (const o of out) {
      if (typeof o !== 'string' && o.error) throw new BatonError(o.error.code as ErrorCode, o.error.message);
    }
  }

  /** Every worker's routes (undefined for a worker that did not answer), and the merger that sums them. */
  async statuses(): Promise<{ parts: Array<RouteStatus[] | undefined>; merger: StatusMerger }> {
    const members = this.joined();
    const out = await Promise.all(members.map((m) => this.ask(m, (seq) => ({ t: 'status', seq }), 10_000)));
    const parts = out.map((o, i) => {
      if (typeof o === 'string' || o.error) return undefined;
      const routes = o.value as RouteStatus[];
      members[i]!.last = routes;
      return routes;
    });
    return { parts, merger: this.merger };
  }

  forget(service: string): void {
    this.merger.forget(service);
  }

  /**
   * Drained when every worker has nothing open on `ids` (a worker that died has nothing open; one started
   * meanwhile never sends to a draining backend). `inFlight` is the sum over workers.
   */
  async waitDrained(service: string, ids: string[], timeoutMs: number): Promise<DrainResult> {
    const started = performance.now();
    const out = await Promise.all(
      this.joined().map((m) =>
        this.ask(m, (seq) => ({ t: 'wait', seq, service, ids, timeoutMs }), timeoutMs + KILL_GRACE_MS),
      ),
    );
    let drained = true;
    let inFlight = 0;
    for (const o of out) {
      if (o === GONE) continue;
      if (o === LATE || o.error) {
        drained = false;
        continue;
      }
      const r = o.value as DrainResult;
      drained &&= r.drained;
      inFlight += r.inFlight;
    }
    return { drained, inFlight, waitedMs: Math.round(performance.now() - started) };
  }

  /** The primary's view of each route (`base`) with every worker's live figures summed in. */
  async sum(base: RouteStatus[]): Promise<RouteStatus[]> {
    const { parts, merger } = await this.statuses();
    return base.map((b) =>
      merger.merge(
        b,
        parts.map((routes) => routes?.find((r) => r.service === b.service)),
      ),
    );
  }

  /**
   * The listening sockets, as raw handles the primary now holds too (asked of one serving worker: they
   * all share the same sockets). The caller closes them once passed on.
   */
  async handles(): Promise<Array<{ listen: string; handle: ListenHandle }>> {
    const m = [...this.members].find((x) => x.serving);
    if (!m) throw new DriverError('proxy', 'no proxy worker serves: nothing to hand over');
    m.handles = [];
    const o = await this.ask(m, (seq) => ({ t: 'handles', seq }), CHANGE_DEADLINE_MS);
    if (typeof o === 'string' || o.error)
      throw new DriverError(
        'proxy',
        `worker pid ${m.pid} did not send its listening sockets: ${describe(o)}`,
      );
    const want = o.value as string[];
    const got = m.handles;
    m.handles = [];
    if (got.length !== want.length) {
      for (const h of got) h.handle.close();
      throw new DriverError(
        'proxy',
        `worker pid ${m.pid} sent ${got.length} of ${want.length} listening sockets`,
      );
    }
    return got;
  }

  /**
   * Every worker stops accepting, finishes what it has open (WebSockets and long responses included, at
   * most `graceMs`), reports its final counters (kept by the merger) and exits. Nothing is respawned.
   */
  async retire(graceMs: number): Promise<void> {
    this.closing = true;
    const members = [...this.members];
    const exits = members.map(
      (m) =>
        new Promise<void>((resolve) => {
          if (m.worker.isDead()) return resolve();
          m.worker.once('exit', () => resolve());
        }),
    );
    await Promise.all(
      members.map(async (m) => {
        const o = await this.ask(m, (seq) => ({ t: 'retire', seq, graceMs }), graceMs + CHANGE_DEADLINE_MS);
        if (typeof o !== 'string' && !o.error) m.last = o.value as RouteStatus[];
        if (o === LATE) m.worker.process.kill('SIGKILL');
      }),
    );
    await Promise.all(exits);
  }

  /** Each worker finishes its in-flight requests (bounded by its shutdown timeout) and exits. */
  async close(timeoutMs: number): Promise<void> {
    this.closing = true;
    const exits = [...this.members].map(
      (m) =>
        new Promise<void>((resolve) => {
          if (m.worker.isDead()) return resolve();
          m.worker.once('exit', () => resolve());
          // One that does not serve yet holds no request (and may not listen for messages yet).
          if (!m.serving) {
            m.worker.process.kill('SIGKILL');
            return;
          }
          const kill = setTimeout(() => m.worker.process.kill('SIGKILL'), timeoutMs + KILL_GRACE_MS);
          m.worker.once('exit', () => clearTimeout(kill));
          try {
            m.worker.send({ t: 'close' } satisfies ToWorker);
          } catch {
            m.worker.process.kill('SIGKILL');
          }
        }),
    );
    await Promise.all(exits);
  }
}

function describe(o: Outcome): string {
  if (o === GONE) return 'it exited';
  if (o === LATE) return 'no answer';
  return o.error?.message ?? 'unknown error';
}
