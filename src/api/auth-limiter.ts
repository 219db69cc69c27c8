/**
 * Failed authentications per client address, in fixed windows: after `max` failures within `windowMs`
 * an address is refused (429) until its window ends, even with a right token, so a token cannot be
 * guessed at speed. Successes do not reset the count (a valid token must not open the door to guessing).
 */
export interface LimiterOptions {
  max?: number;
  windowMs?: number;
  now?: () => number;
}

export class AuthLimiter {
  private readonly windows = new Map<string, { failures: number; endsAt: number }>();
  private readonly max: number;
  private readonly windowMs: number;
  private readonly now: () => number;

  constructor(opts: LimiterOptions = {}) {
    this.max = opts.max ?? 10;
    this.windowMs = opts.windowMs ?? 60_000;
    this.now = opts.now ?? Date.now;
  }

  /** Milliseconds until `address` may try again; 0 when it may now. */
  blockedFor(address: string): number {
    const w = this.current(address);
    return w && w.failures >= this.max ? w.endsAt - this.now() : 0;
  }

  /** Counts a failure; returns how many this window holds. */
  fail(address: string): number {
    const w = this.current(address) ?? { failures: 0, endsAt: this.now() + this.windowMs };
    w.failures++;
    this.windows.set(address, w);
    if (this.windows.size > 10_000) this.prune();
    return w.failures;
  }

  private current(address: string) {
    const w = this.windows.get(address);
    if (w && w.endsAt <= this.now()) {
      this.windows.delete(address);
      return undefined;
    }
    return w;
  }

  private prune(): void {
    const now = this.now();
    for (const [a, w] of this.windows) if (w.endsAt <= now) this.windows.delete(a);
  }
}
