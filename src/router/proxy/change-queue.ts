import { DriverError } from '../../core/errors.js';
import type { Fleet } from './fleet.js';
import { handedOffError } from './handoff/protocol.js';
import type { Change } from './ops.js';
import { type Snapshot, writeAtomic } from './snapshot.js';

/** What the queue needs of its proxy. */
export interface QueueOwner {
  /** A worker applies changes without writing anything. */
  readonly writes: boolean;
  readonly statePath: string;
  fleet(): Fleet | undefined;
  snapshot(): Snapshot;
  /** A successor took over: admin changes are refused, and the snapshot on disk is the successor's. */
  handedOver(): boolean;
}

/**
 * A proxy's admin changes, one at a time: the change here, then (primary) in every worker, then the
 * snapshot write, then (a successor) to the proxy draining behind it. Once this proxy was handed over,
 * only the changes its successor relays run (`relayed`), and nothing is written.
 */
export class ChangeQueue {
  private queue: Promise<unknown> = Promise.resolve();
  private writing: Promise<void> = Promise.resolve();
  /** A successor's link to the proxy draining behind it (`handoff/successor.ts`). */
  relay: ((change: Change) => void) | undefined;
  /** Set while `relayed` runs: read synchronously when a change method calls `serial`. */
  private relaying = false;

  constructor(private readonly owner: QueueOwner) {}

  serial<T>(fn: () => T | Promise<T>, change?: Change): Promise<T> {
    const relayed = this.relaying;
    return this.exclusive(async () => {
      if (this.owner.handedOver() && !relayed) throw handedOffError();
      const out = await fn();
      try {
        if (change !== undefined) await this.owner.fleet()?.apply(change);
        if (change !== undefined) this.relay?.(change);
      } finally {
        if (this.owner.writes && !this.owner.handedOver()) await this.persist();
      }
      return out;
    });
  }

  /** Runs `fn` between two admin changes (no snapshot write). */
  exclusive<T>(fn: () => T | Promise<T>): Promise<T> {
    const run = this.queue.then(fn);
    this.queue = run.catch(() => {});
    return run;
  }

  /** Runs `apply`, whose change methods call `serial`, as changes relayed by the successor. */
  relayed(apply: () => Promise<void>): Promise<void> {
    this.relaying = true;
    try {
      return apply();
    } finally {
      this.relaying = false;
    }
  }

  private persist(): Promise<void> {
    const path = this.owner.statePath;
    const data = `${JSON.stringify(this.owner.snapshot(), null, 2)}\n`;
    const write = this.writing.then(() => writeAtomic(path, data));
    this.writing = write.catch(() => {});
    return write.catch((e: Error) => {
      throw new DriverError('proxy', `cannot write snapshot ${path}: ${e.message}`, e);
    });
  }
}
