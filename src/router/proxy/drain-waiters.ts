import { performance } from 'node:perf_hooks';
import type { DrainResult } from '../router.js';
import type { ServiceTable } from './service.js';

interface Waiter {
  table: ServiceTable;
  ids: string[];
  done(timedOut: boolean): void;
}

/**
 * `waitDrained` of a proxy that serves in its own process: resolves once the backends have nothing open
 * (woken by the data path when a backend goes idle, or when a route or backend goes away) or on timeout.
 */
export class DrainWaiters {
  private readonly waiters = new Set<Waiter>();

  /** `current` says which table a service has now (a removed or replaced route counts as drained). */
  constructor(private readonly current: (service: string) => ServiceTable | undefined) {}

  wait(service: string, ids: string[], timeoutMs: number): Promise<DrainResult> {
    const started = performance.now();
    const table = this.current(service);
    const result = (drained: boolean): DrainResult => ({
      drained,
      inFlight: table && this.current(service) === table ? table.openOn(ids) : 0,
      waitedMs: Math.round(performance.now() - started),
    });
    if (!table || table.openOn(ids) === 0) return Promise.resolve(result(true));
    return new Promise((resolve) => {
      const timer = setTimeout(() => w.done(true), Math.max(0, timeoutMs));
      const w: Waiter = {
        table,
        ids,
        done: (timedOut) => {
          clearTimeout(timer);
          this.waiters.delete(w);
          resolve(result(!timedOut));
        },
      };
      this.waiters.add(w);
    });
  }

  /** Resolves the waiters whose backends have nothing open any more. */
  wake(): void {
    if (this.waiters.size === 0) return;
    for (const w of this.waiters) {
      const live = this.current(w.table.service) === w.table;
      if (!live || w.table.openOn(w.ids) === 0) w.done(false);
    }
  }

  /** Resolves every waiter (shutdown). */
  release(): void {
    for (const w of [...this.waiters]) w.done(false);
  }
}
