import type { Logger } from 'pino';
import { DriverError, NotFoundError } from '../core/errors.js';
import type { Instance } from '../core/types.js';
import type { LogOptions, PurgeTarget, Runtime, StartRequest } from './runtime.js';

/** Makes the runtime of one kind; called at most once per kind, on first need. */
export type RuntimeFactories = Record<string, () => Runtime>;

const WARN_EVERY_MS = 60_000;

/**
 * One Runtime over several: `start` goes to the runtime named by the service's `runtime` field; the
 * other calls ask every runtime in use (instance ids come from the planner and never clash across
 * kinds). Runtimes are created lazily — on the first start of their kind or by `use` (the daemon calls
 * it for the kinds its stored revisions name, so instances are adopted after a restart) — so a machine
 * without Docker runs process services with no error. A failing non-default runtime (Docker down) is
 * logged and left out of `list`/`get` instead of failing every service.
 */
export class MultiRuntime implements Runtime {
  readonly kind = 'multi';
  private readonly made = new Map<string, Runtime>();
  /** Which kind holds an instance, learned from start, list and get. */
  private readonly owner = new Map<string, string>();
  private readonly warned = new Map<string, number>();

  constructor(
    private readonly factories: RuntimeFactories,
    private readonly defaultKind: string,
    private readonly logger?: Logger,
  ) {
    this.use(defaultKind);
  }

  /** The runtime of `kind`, created on first call. */
  use(kind: string): Runtime {
    let r = this.made.get(kind);
    if (r) return r;
    const make = this.factories[kind];
    if (!make) {
      throw new DriverError(
        'runtime',
        `unknown runtime ${JSON.stringify(kind)}; known: ${Object.keys(this.factories).join(', ')}`,
      );
    }
    r = make();
    this.made.set(kind, r);
    return r;
  }

  async start(req: StartRequest): Promise<Instance> {
    const kind = req.spec.runtime;
    const inst = await this.use(kind).start(req);
    this.owner.set(req.id, kind);
    return inst;
  }

  async list(service?: string): Promise<Instance[]> {
    const lists = await this.each((r) => r.list(service));
    const all: Instance[] = [];
    for (const [kind, instances] of lists) {
      for (const i of instances) this.owner.set(i.id, kind);
      all.push(...instances);
    }
    return all;
  }

  async get(id: string): Promise<Instance | undefined> {
    return (await this.find(id))?.inst;
  }

  async restart(id: string): Promise<Instance> {
    const found = await this.find(id);
    if (!found) throw new NotFoundError(`instance ${id}`);
    return found.runtime.restart(id);
  }

  async stop(id: string, timeoutMs: number): Promise<void> {
    await (await this.find(id))?.runtime.stop(id, timeoutMs);
  }

  async remove(id: string): Promise<void> {
    const found = await this.find(id);
    await found?.runtime.remove(id);
    this.owner.delete(id);
  }

  /** The first runtime that knows the instance's output (a removed process instance keeps its log). */
  async *logs(id: string, opts?: LogOptions): AsyncIterable<string> {
    const known = this.owner.get(id);
    const order = [...this.made.entries()].sort(([a], [b]) => (a === known ? -1 : b === known ? 1 : 0));
    for (const [, runtime] of order) {
      const it = runtime.logs(id, opts)[Symbol.asyncIterator]();
      let first: IteratorResult<string>;
      try {
        first = await it.next();
      } catch (err) {
        if (err instanceof NotFoundError) continue;
        throw err;
      }
      if (first.done) return;
      yield first.value;
      for (let n = await it.next(); !n.done; n = await it.next()) yield n.value;
      return;
    }
    throw new NotFoundError(`instance ${id}`);
  }

  async purge(keep: (target: PurgeTarget) => boolean): Promise<string[]> {
    const removed = await this.each(async (r) => (r.purge ? r.purge(keep) : []));
    return removed.flatMap(([, ids]) => ids);
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.made.values()].map((r) => r.close()));
  }

  /** Finds the runtime holding `id`: the one known to, else asks each. */
  private async find(id: string): Promise<{ runtime: Runtime; inst: Instance } | undefined> {
    const known = this.owner.get(id);
    const knownRuntime = known === undefined ? undefined : this.made.get(known);
    if (knownRuntime) {
      const inst = await knownRuntime.get(id);
      if (inst) return { runtime: knownRuntime, inst };
    }
    const hits = await this.each(async (r) => (r === knownRuntime ? undefined : r.get(id)));
    for (const [kind, inst] of hits) {
      if (!inst) continue;
      this.owner.set(id, kind);
      return { runtime: this.made.get(kind)!, inst };
    }
    this.owner.delete(id);
    return undefined;
  }

  /** Calls every runtime in use; a failing non-default one is logged (once a minute) and skipped. */
  private async each<T>(fn: (r: Runtime) => Promise<T>): Promise<Array<[string, T]>> {
    const kinds = [...this.made.keys()];
    const settled = await Promise.allSettled(kinds.map((k) => fn(this.made.get(k)!)));
    const out: Array<[string, T]> = [];
    settled.forEach((s, n) => {
      const kind = kinds[n]!;
      if (s.status === 'fulfilled') out.push([kind, s.value]);
      else if (kind === this.defaultKind) throw s.reason;
      else this.warn(kind, s.reason);
    });
    return out;
  }

  private warn(kind: string, err: unknown): void {
    const last = this.warned.get(kind) ?? 0;
    if (Date.now() - last < WARN_EVERY_MS) return;
    this.warned.set(kind, Date.now());
    this.logger?.warn({ runtime: kind, err: (err as Error)?.message ?? String(err) }, 'runtime unavailable');
  }
}
