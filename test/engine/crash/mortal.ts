import type { Clock } from '../../../src/cloud/clock.js';

/** A promise that never settles: what every call of a dead process returns. */
const never = <T>(): Promise<T> => new Promise<T>(() => undefined);

/** Decides, from a call's method name, arguments and answer, that the process dies right after it. */
export type DiesAfter = (method: string, args: unknown[], result: unknown) => boolean;

/**
 * One control plane's link to the world (its store, its cloud clients, its clock), cut at once by
 * `kill()`: from then on every call it makes never returns, and an answer that arrives after the kill is
 * never seen — what SIGKILL does to a process, in-process. Nothing it started runs another line of its
 * own code (no rollback, no record saved), while what it already sent stays sent.
 */
export class Mortal {
  dead = false;
  /** Where it died, for messages. */
  at = '';
  private diesAfter: DiesAfter | undefined;

  kill(at: string): void {
    this.dead = true;
    this.at ||= at;
  }

  /** Dies right after the first call for which `fn` says so (its answer is lost). */
  dieAfter(fn: DiesAfter | undefined): void {
    this.diesAfter = fn;
  }

  /** `target` with every method call cut by the kill (and able to trigger it). */
  wrap<T extends object>(target: T, name: string): T {
    const cache = new Map<PropertyKey, unknown>();
    return new Proxy(target, {
      get: (t, prop) => {
        const value = Reflect.get(t, prop, t) as unknown;
        if (typeof value !== 'function' || prop === 'constructor') return value;
        let f = cache.get(prop);
        if (!f) {
          f = (...args: unknown[]) => {
            if (this.dead) return never();
            const r = (value as (...a: unknown[]) => unknown).apply(t, args);
            if (!(r instanceof Promise)) return r;
            return r.then(
              (v) => {
                if (!this.dead && this.diesAfter?.(String(prop), args, v))
                  this.kill(`after ${name}.${String(prop)}`);
                return this.dead ? never() : v;
              },
              (e: unknown) => (this.dead ? never() : Promise.reject(e)),
            );
          };
          cache.set(prop, f);
        }
        return f;
      },
    });
  }

  /** A clock whose sleeps never end once the process is dead. */
  clock(c: Clock): Clock {
    return {
      now: () => c.now(),
      sleep: async (ms) => {
        if (this.dead) return never();
        await c.sleep(ms);
        if (this.dead) return never();
      },
    };
  }
}
