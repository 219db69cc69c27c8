import { setTimeout as delay } from 'node:timers/promises';
import { DeployFailedError } from '../core/errors.js';

/** What a waiting step is waiting for, shown by `baton status`. */
export type WaitingFor = 'promotion' | 'resume' | 'analysis' | 'rollback window' | null;

/**
 * Hands from outside (`baton promote|abort|pause|resume`) into one running deployment. A promotion sent
 * while no step waits is kept for the next gate, so a quick `promote` is never lost.
 */
export class DeploymentSignals {
  private readonly aborter = new AbortController();
  private pendingPromote = false;
  private promoteWaiters = new Set<() => void>();
  private paused = false;
  private resumeWaiters = new Set<() => void>();
  waiting: WaitingFor = null;

  get signal(): AbortSignal {
    return this.aborter.signal;
  }

  get isPaused(): boolean {
    return this.paused;
  }

  promote(): void {
    if (this.promoteWaiters.size === 0) this.pendingPromote = true;
    for (const w of this.promoteWaiters) w();
    this.promoteWaiters.clear();
  }

  abort(reason: string): void {
    this.aborter.abort(new DeployFailedError(reason, { reason: 'aborted' }));
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    for (const w of this.resumeWaiters) w();
    this.resumeWaiters.clear();
  }

  /** Resolves when resumed (or at once when not paused); rejects on abort. */
  async whileNotPaused(): Promise<void> {
    if (!this.paused) return;
    this.waiting = 'resume';
    try {
      await this.race(new Promise<void>((r) => this.resumeWaiters.add(r)));
    } finally {
      this.waiting = null;
    }
  }

  /** Waits for `promote`, or `ms` when given: resolves with which ended it. Rejects on abort. */
  async waitPromotion(ms?: number, what: WaitingFor = 'promotion'): Promise<'promoted' | 'elapsed'> {
    if (this.pendingPromote) {
      this.pendingPromote = false;
      return 'promoted';
    }
    this.waiting = what;
    let release: () => void = () => undefined;
    const promoted = new Promise<'promoted'>((r) => {
      release = () => r('promoted');
      this.promoteWaiters.add(release);
    });
    const timer = new AbortController();
    try {
      const waits: Array<Promise<'promoted' | 'elapsed'>> = [promoted];
      if (ms !== undefined) waits.push(delay(ms, 'elapsed' as const, { signal: timer.signal }));
      return await this.race(Promise.race(waits));
    } finally {
      timer.abort();
      this.promoteWaiters.delete(release);
      this.waiting = null;
    }
  }

  /** `p`, unless the deployment is aborted first. */
  race<T>(p: Promise<T>): Promise<T> {
    const signal = this.aborter.signal;
    if (signal.aborted) return Promise.reject(signal.reason);
    return new Promise<T>((resolve, reject) => {
      const onAbort = () => reject(signal.reason);
      signal.addEventListener('abort', onAbort, { once: true });
      p.then(
        (v) => {
          signal.removeEventListener('abort', onAbort);
          resolve(v);
        },
        (e: unknown) => {
          signal.removeEventListener('abort', onAbort);
          reject(e);
        },
      );
    });
  }
}
