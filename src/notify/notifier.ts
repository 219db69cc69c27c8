import type { Logger } from 'pino';
import { fetch } from 'undici';
import { hideValues } from '../core/secrets.js';
import type { DeployEvent } from '../engine/events.js';
import type { DeployRun, EngineObserver } from '../engine/observer.js';
import { type NotifyTarget, targetUrl } from '../spec/notify.js';
import { type Notification, notificationsOf, slackBody } from './notification.js';

export interface NotifierOptions {
  logger: Logger;
  /** Tries per notification (first one included). Default 5. */
  attempts?: number;
  /** Wait before the first retry, doubled each time. Default 1 s. */
  backoffMs?: number;
  /** One try may take this long (connect, answer). Default 5 s. */
  timeoutMs?: number;
  /** Notifications waiting per receiver; past it the oldest is dropped (and logged). Default 100. */
  maxQueued?: number;
}

interface Job {
  target: NotifyTarget;
  n: Notification;
}

/** One receiver's queue: delivered in order, one at a time, so a slow receiver only delays itself. */
interface Lane {
  jobs: Job[];
  busy: boolean;
}

/** Answers worth trying again: the receiver is down, overloaded or slow. */
const RETRY_STATUS = new Set([408, 425, 429, 500, 502, 503, 504]);

/**
 * Sends deploy notifications to the webhooks of a service's `notify:` list. The engine tells it events
 * (an observer); it only queues and returns, so a slow or dead receiver never holds a deploy. Each
 * receiver has its own queue, delivered in order with retries and exponential backoff. Webhook URLs are
 * secrets: logs name a receiver by its kind and place in the list, and hide the URL in any message.
 */
export class Notifier implements EngineObserver {
  private readonly lanes = new Map<string, Lane>();
  private readonly verdicts = new Map<string, string>();
  private readonly idle = new Set<() => void>();
  private readonly attempts: number;
  private readonly backoffMs: number;
  private readonly timeoutMs: number;
  private readonly maxQueued: number;

  constructor(private readonly o: NotifierOptions) {
    this.attempts = o.attempts ?? 5;
    this.backoffMs = o.backoffMs ?? 1000;
    this.timeoutMs = o.timeoutMs ?? 5000;
    this.maxQueued = o.maxQueued ?? 100;
  }

  deployEvent(run: DeployRun, e: DeployEvent): void {
    const targets = run.spec.notify ?? [];
    if (targets.length === 0) return;
    const list = notificationsOf(run, e, new Date(), this.verdicts.get(run.deployment));
    if (e.type === 'analysis' && e.decision !== 'wait') this.verdicts.set(run.deployment, e.decision);
    if (e.type === 'result') this.verdicts.delete(run.deployment);
    for (const n of list)
      for (const target of targets)
        if (target.events === undefined || target.events.includes(n.event)) this.enqueue({ target, n });
  }

  /** Resolves once every queue is empty (tests; a clean shutdown). */
  drained(): Promise<void> {
    if ([...this.lanes.values()].every((l) => !l.busy)) return Promise.resolve();
    return new Promise((r) => this.idle.add(r));
  }

  private enqueue(job: Job): void {
    const url = targetUrl(job.target);
    let lane = this.lanes.get(url);
    if (lane === undefined) {
      lane = { jobs: [], busy: false };
      this.lanes.set(url, lane);
    }
    if (lane.jobs.length >= this.maxQueued) {
      const dropped = lane.jobs.shift()!;
      this.o.logger.warn(
        { receiver: describe(job.target), service: dropped.n.service, event: dropped.n.event },
        'notification queue full: the oldest notification was dropped',
      );
    }
    lane.jobs.push(job);
    if (!lane.busy) void this.run(lane);
  }

  private async run(lane: Lane): Promise<void> {
    lane.busy = true;
    for (let job = lane.jobs.shift(); job !== undefined; job = lane.jobs.shift()) await this.deliver(job);
    lane.busy = false;
    if ([...this.lanes.values()].every((l) => !l.busy)) {
      for (const r of this.idle) r();
      this.idle.clear();
    }
  }

  private async deliver({ target, n }: Job): Promise<void> {
    const url = targetUrl(target);
    const body = JSON.stringify(target.slack !== undefined ? slackBody(n) : n);
    for (let attempt = 1; attempt <= this.attempts; attempt++) {
      let why: string;
      let retry = true;
      try {
        const res = await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'user-agent': 'baton-notify' },
          body,
          redirect: 'manual',
          signal: AbortSignal.timeout(this.timeoutMs),
        });
        await res.body?.cancel().catch(() => undefined);
        if (res.status >= 200 && res.status < 300) return;
        why = `answered ${res.status}`;
        retry = RETRY_STATUS.has(res.status);
      } catch (err) {
        const e = err as Error & { cause?: { code?: string; message?: string } };
        why =
          e.name === 'TimeoutError' ? `no answer within ${this.timeoutMs} ms` : (e.cause?.code ?? e.message);
      }
      const last = attempt === this.attempts || !retry;
      this.o.logger.warn(
        {
          receiver: describe(target),
          service: n.service,
          event: n.event,
          attempt,
          why: hideValues(why, [url]),
          ...(last ? {} : { retryInMs: this.backoffMs * 2 ** (attempt - 1) }),
        },
        last ? 'notification not delivered: giving up' : 'notification not delivered: will retry',
      );
      if (last) return;
      await new Promise((r) => setTimeout(r, this.backoffMs * 2 ** (attempt - 1)).unref());
    }
  }
}

/** A receiver as logs show it: its kind and host, never its URL (the path is the credential). */
function describe(t: NotifyTarget): string {
  try {
    return `${t.slack !== undefined ? 'slack' : 'webhook'} at ${new URL(targetUrl(t)).host}`;
  } catch {
    return t.slack !== undefined ? 'slack' : 'webhook';
  }
}
