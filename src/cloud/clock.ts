/**
 * Time as the cloud drivers see it: `now` for deadlines, `sleep` for backoff and polling. Injected so
 * tests run every wait (a 5 s poll, a `Retry-After: 30`, a 10 min start timeout) in virtual time,
 * deterministically, without real sleeps.
 */
export interface Clock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

export const realClock: Clock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms))),
};

/**
 * A clock whose `sleep` advances `now` by the requested time and resolves on the next turn of the event
 * loop (so real I/O, such as an answer of an in-process fake, still interleaves). Records every sleep.
 */
export class VirtualClock implements Clock {
  readonly sleeps: number[] = [];
  constructor(private t = 0) {}

  now(): number {
    return this.t;
  }

  sleep(ms: number): Promise<void> {
    const d = Math.max(0, ms);
    this.sleeps.push(d);
    this.t += d;
    return new Promise((resolve) => setImmediate(resolve));
  }
}
