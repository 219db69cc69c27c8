export interface WaitOptions {
  /** Give up after this long (default 10 s). */
  timeoutMs?: number;
  /** Time between checks (default 25 ms). */
  intervalMs?: number;
  /** What was awaited, for the timeout message. */
  message?: string;
}

/** What a successful check returned: anything but false, 0, '', null or undefined. */
export type Truthy<T> = Exclude<T, false | 0 | '' | null | undefined>;

/**
 * Polls `cond` until it returns a truthy value (sync or async) and resolves with that value. A throwing
 * `cond` counts as "not yet"; the last error is reported if the deadline passes. Use it instead of sleeps.
 */
export async function waitFor<T>(cond: () => T | Promise<T>, opts: WaitOptions = {}): Promise<Truthy<T>> {
  const { timeoutMs = 10_000, intervalMs = 25 } = opts;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  let lastValue: unknown;
  for (;;) {
    try {
      const value = await cond();
      if (value) return value as Truthy<T>;
      lastValue = value;
      lastError = undefined;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline) {
      const what = opts.message ?? cond.toString().slice(0, 120);
      const last =
        lastError !== undefined ? `last error: ${String(lastError)}` : `last value: ${String(lastValue)}`;
      throw new Error(`waitFor timed out after ${timeoutMs}ms: ${what} (${last})`, { cause: lastError });
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
