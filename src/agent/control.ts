import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import type { Transition } from './machine.js';

/** Subjects of the agents' request/reply API. */
export const SUBJECTS = {
  transition: 'baton.agent.transition',
  drain: 'baton.router.drain',
} as const;

export interface TransitionRequest {
  service: string;
  transition: Transition;
  /** Only this node answers; every node when absent. */
  node?: string | undefined;
}

export interface SlotResult {
  slot: number;
  instance: string | null;
  from: string;
  ok: boolean;
  to?: string | undefined;
  reason?: string | undefined;
}

export interface TransitionReply {
  node: string;
  /** False when this node runs no such service. */
  known: boolean;
  results: SlotResult[];
}

export interface DrainRequest {
  service: string;
  instances: string[];
}

export interface DrainReply {
  node: string;
  drained: boolean;
  inFlight: number;
}

/**
 * Sends `payload` to every agent listening on `subject` and gathers replies until `expect` arrived or
 * `timeoutMs` passed. Never throws on silence or a lost connection: the caller sees who answered.
 */
export async function gather<T>(
  nc: NatsConnection,
  subject: string,
  payload: unknown,
  opts: { expect: number; timeoutMs: number },
): Promise<T[]> {
  const out: T[] = [];
  if (opts.expect <= 0) return out;
  try {
    const replies = await nc.requestMany(subject, JSON.stringify(payload), {
      strategy: 'count',
      maxMessages: opts.expect,
      maxWait: opts.timeoutMs,
    });
    for await (const m of replies) {
      try {
        out.push(m.json<T>());
      } catch {
        // Not an agent's answer (a status message): skip it.
      }
    }
  } catch {
    // No responders, a timeout or a reconnect: whoever answered is in `out`.
  }
  return out;
}

/** Answers requests on `subject` with `handle` (each handled concurrently); returns the subscription. */
export function serve<Req, Rep>(
  nc: NatsConnection,
  subject: string,
  handle: (req: Req) => Promise<Rep | undefined>,
  onError: (e: unknown) => void,
): Subscription {
  return nc.subscribe(subject, {
    callback: (err, msg) => {
      if (err) return onError(err);
      void (async () => {
        const rep = await handle(msg.json<Req>());
        if (rep !== undefined) msg.respond(JSON.stringify(rep));
      })().catch(onError);
    },
  });
}
