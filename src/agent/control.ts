import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import type { Registration } from '../cluster/registry.js';
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
  /** Instances to take out of every router (already deregistered by the requester). */
  instances: string[];
  /**
   * The registrations replacing them (an update's new instance): a router makes sure they are active
   * backends before it drains `instances`, even if its registry watch has not shown them yet.
   */
  replacements?: Registration[] | undefined;
}

export interface DrainReply {
  node: string;
  /**
   * This node's router has the replacements active and sends no new request to `instances`, and its
   * registry watch will not bring them back. False: the requester must keep them serving and ask again.
   * (Absent in answers from agents that predate it: taken as true.)
   */
  confirmed?: boolean;
  /** Why not confirmed. */
  reason?: string;
  drained: boolean;
  inFlight: number;
}

export interface ConfirmOptions {
  /** How long one round of asking waits for answers. */
  attemptMs: number;
  /** The nodes that must confirm: every live node (read again each round; a dead node's status ages out). */
  liveNodes(): Promise<string[]>;
  /**
   * While the live list cannot be read (JetStream requests failing after a server died), a node of the
   * last list read that has not answered at all for this long is taken as gone: its status would have
   * aged out by then (the status TTL).
   */
  silentMs: number;
  /** Give up (answer not confirmed) when this says so: the agent is stopping. */
  stopped(): boolean;
  logger: Logger;
}

/**
 * Asks every node's router to stop sending to `req.instances`, again and again, until every live node
 * confirmed it (see DrainReply.confirmed). Returns false only when `stopped()` ended the wait: the caller
 * must then not stop the instances. A node that never answers holds this up until its status ages out
 * of the live list (its agent is gone) — meanwhile the old instances keep serving, which is the point.
 */
export async function confirmDrain(
  nc: NatsConnection,
  req: DrainRequest,
  o: ConfirmOptions,
): Promise<boolean> {
  const confirmed = new Set<string>();
  const answered = new Set<string>();
  const since = Date.now();
  let live: string[] | undefined;
  for (let round = 0; ; round++) {
    if (o.stopped()) return false;
    try {
      live = await o.liveNodes();
    } catch (err) {
      o.logger.warn({ err, service: req.service }, 'live nodes cannot be read; using the last list read');
      if (live && Date.now() - since >= o.silentMs) live = live.filter((n) => answered.has(n));
    }
    if (live) {
      if (round > 0 && live.every((n) => confirmed.has(n))) return true;
      const replies = await gather<DrainReply>(nc, SUBJECTS.drain, req, {
        expect: Math.max(1, live.length),
        timeoutMs: o.attemptMs,
      });
      for (const r of replies) {
        answered.add(r.node);
        if (r.confirmed !== false) confirmed.add(r.node);
      }
      if (live.every((n) => confirmed.has(n))) return true;
      const missing = live.filter((n) => !confirmed.has(n));
      const reasons = replies.filter((r) => r.confirmed === false).map((r) => `${r.node}: ${r.reason}`);
      o.logger.warn(
        { service: req.service, instances: req.instances, missing, reasons },
        'not every router confirmed the drain; the instances keep serving, asking again',
      );
    }
    await new Promise((r) => setTimeout(r, Math.min(2000, 250 * 2 ** round)));
  }
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
