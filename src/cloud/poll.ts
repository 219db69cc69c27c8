import type { Clock } from './clock.js';

export interface PollOptions<T> {
  clock: Clock;
  intervalMs: number;
  timeoutMs: number;
  /** The error thrown when `timeoutMs` passes; gets the last value read. */
  onTimeout: (last: T) => Error;
}

/**
 * Reads until `done` holds (resolving with that value) or `timeoutMs` passes on the injected clock. The
 * first read is immediate. `read` may throw to abort (e.g. an instance that went FAILED).
 */
export async function pollUntil<T>(
  read: () => Promise<T>,
  done: (v: T) => boolean,
  o: PollOptions<T>,
): Promise<T> {
  const deadline = o.clock.now() + o.timeoutMs;
  for (;;) {
    const v = await read();
    if (done(v)) return v;
    if (o.clock.now() >= deadline) throw o.onTimeout(v);
    await o.clock.sleep(Math.min(o.intervalMs, Math.max(0, deadline - o.clock.now())));
  }
}
