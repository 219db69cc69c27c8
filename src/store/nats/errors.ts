import { JetStreamApiCodes, JetStreamApiError } from '@nats-io/jetstream';
import { ConnectionError, RequestError, TimeoutError } from '@nats-io/transport-node';
import { BatonError, DriverError, UnavailableError } from '../../core/errors.js';

/**
 * JetStream's "expected last sequence" check failed: the compare-and-set lost. Both codes mean the same
 * for us (10164 is the variant sent when the server does not know the subject's last sequence).
 */
export function isWrongLastSequence(e: unknown): boolean {
  return (
    e instanceof JetStreamApiError &&
    (e.code === JetStreamApiCodes.StreamWrongLastSequence ||
      e.code === JetStreamApiCodes.StreamWrongLastSequenceUnknown)
  );
}

/**
 * Errors that a moment later may not happen: a request that timed out, nobody answering while the client
 * reconnects or a stream elects a new leader (no responders, 503), a dropped connection. Everything else
 * (a lost compare-and-set, a bad request, a closed connection) is final.
 */
export function isTransient(e: unknown): boolean {
  if (e instanceof TimeoutError || e instanceof ConnectionError || e instanceof RequestError) return true;
  if (e instanceof JetStreamApiError) {
    // 10008: "JetStream system temporarily unavailable"; 503 during leader elections.
    return e.code === 10008 || e.status === 503;
  }
  // JetStreamNotEnabled is what nats.js makes of "no responders" on the JetStream API subjects: while a
  // stream has no leader, or the client reconnects. A server without JetStream at all says the same, and
  // is then reported as unavailable once the deadline passes, which is also true.
  return e instanceof Error && e.name === 'JetStreamNotEnabled' && !(e.cause instanceof JetStreamApiError);
}

/**
 * Another client created the same stream a moment earlier (several agents starting at once on a new
 * bucket): the server refuses the second add with "subjects overlap" (10065) or "name already in use"
 * (10058), although the stream now exists as asked.
 */
export function isCreateRace(e: unknown): boolean {
  return e instanceof JetStreamApiError && (e.code === 10065 || e.code === 10058);
}

/**
 * Runs `create` (open a stream or bucket, adding it when missing) again when it lost a creation race:
 * the next attempt finds the stream and opens it. A real conflict (another stream owns those subjects)
 * fails the same way every time and is thrown after the third attempt.
 */
export async function createRacing<T>(create: () => Promise<T>): Promise<T> {
  for (let i = 0; ; i++) {
    try {
      return await create();
    } catch (e) {
      if (!isCreateRace(e) || i >= 2) throw e;
    }
  }
}

/** A vendor error as one of Baton's: unreachable or timing out → UnavailableError, else DriverError. */
export function translate(e: unknown, what: string): BatonError {
  if (e instanceof BatonError) return e;
  const msg = e instanceof Error ? e.message : String(e);
  if (isTransient(e)) return new UnavailableError(`nats: ${what}: ${msg}`, e);
  return new DriverError('nats', `${what}: ${msg}`, e);
}

export interface RetryOptions {
  /** Give up (UnavailableError) once this much time has passed since the first attempt. */
  deadlineMs: number;
}

/**
 * Runs `attempt` until it succeeds, fails with a final error, or the deadline passes; transient errors
 * are retried with jittered backoff (100 ms doubling to 1 s). A failover of the server the client was
 * connected to, or a stream leader election, takes a few seconds: callers ride through it here instead
 * of each handling it. Writes are only safe to repeat because they carry a message id (see nats-store.ts).
 */
export async function withRetry<T>(what: string, opts: RetryOptions, attempt: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + opts.deadlineMs;
  for (let i = 0; ; i++) {
    try {
      return await attempt();
    } catch (e) {
      const pause = Math.min(1000, 100 * 2 ** i) * (0.5 + Math.random() / 2);
      if (!isTransient(e) || Date.now() + pause >= deadline) throw translate(e, what);
      await new Promise((r) => setTimeout(r, pause));
    }
  }
}

/**
 * Runs `consume` (reading a consumer to its end) but stops it after `ms` and throws a TimeoutError, which
 * `withRetry` treats as transient: a consumer whose server went away mid-read must not hang its caller.
 */
export async function bounded<T>(ms: number, stop: () => void, consume: () => Promise<T>): Promise<T> {
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    stop();
  }, ms);
  try {
    const result = await consume();
    if (timedOut) throw new TimeoutError();
    return result;
  } finally {
    clearTimeout(timer);
  }
}
