import type { Clock } from '../clock.js';
import type { CallLog } from '../planned.js';
import { isRetryableStatus, type Outcome, type RetryPolicy, retry, type Verdict } from '../retry.js';
import { awsStatus, isThrottling, translateAws } from './errors.js';

/** Anything with the SDK v3 `send(command)`: ECSClient, ElasticLoadBalancingV2Client. */
export interface Sender {
  // biome-ignore lint/suspicious/noExplicitAny: each SDK client types `send` by its own command union.
  send(command: any): Promise<any>;
}

/** How a call may be retried. */
export type Idempotence =
  /** Reads, and writes that are safe to repeat (same result) or carry an idempotency token. */
  | 'safe'
  /**
   * Writes without a token (RegisterTaskDefinition): only throttling is retried — a throttled request
   * was refused before it ran. A 5xx may have been applied; the caller looks before trying again.
   */
  | 'unsafe';

export interface AwsCallerOptions {
  policy: RetryPolicy;
  clock: Clock;
  random?: (() => number) | undefined;
  onRetry?:
    | ((info: { op: string; attempt: number; delayMs: number; reason: string | undefined }) => void)
    | undefined;
  /** Dry run (`baton plan`): reads are sent, writes are recorded here instead. */
  dryRun?: CallLog | undefined;
}

/** 429/throttling and 5xx (not 501), and no answer at all (reset, refused, timed out), are transient. */
export function classifyAws(idempotence: Idempotence) {
  return (o: Outcome<unknown>): Verdict => {
    if (o.ok) return { retry: false };
    const err = o.error;
    if (isThrottling(err)) return { retry: true, reason: `throttled (${(err as Error).name})` };
    if (idempotence === 'unsafe') return { retry: false };
    const status = awsStatus(err);
    if (status !== undefined) return { retry: isRetryableStatus(status), reason: `HTTP ${status}` };
    if ((err as { $fault?: string }).$fault === 'server') return { retry: true, reason: 'server fault' };
    // No answer: a network error or a timeout of one attempt.
    return { retry: (err as { $fault?: string }).$fault === undefined, reason: (err as Error)?.name };
  };
}

/**
 * The one retry layer of the AWS drivers: every SDK call goes through `call`, which retries with
 * `src/cloud/retry.ts` (full-jitter exponential backoff, attempts and a deadline, the injected clock) and
 * translates the final error. The SDK clients are built with `maxAttempts: 1` (see `clients.ts`) so
 * attempts never multiply (SDK 3 × ours 8) and no wait happens outside our deadline and clock.
 */
export class AwsCaller {
  constructor(
    private readonly driver: string,
    private readonly opts: AwsCallerOptions,
  ) {}

  get clock(): Clock {
    return this.opts.clock;
  }

  /** Whether writes are recorded instead of sent (`baton plan`). */
  get dry(): boolean {
    return this.opts.dryRun !== undefined;
  }

  /**
   * A call that changes something: sent like `call`, or in a dry run recorded (operation, input, what
   * the driver then waits for) and answered with `undefined` — the caller goes on with a placeholder.
   */
  async write<T>(
    client: Sender,
    command: { constructor: { name: string }; input?: unknown },
    doing: string,
    opts: { idempotence?: Idempotence; awaits?: string } = {},
  ): Promise<T | undefined> {
    if (this.opts.dryRun) {
      this.opts.dryRun.add({
        op: command.constructor.name.replace(/Command$/, ''),
        method: 'POST',
        path: '/',
        body: command.input,
        ...(opts.awaits ? { awaits: opts.awaits } : {}),
      });
      return undefined;
    }
    return this.call<T>(client, command, doing, opts.idempotence);
  }

  async call<T>(
    client: Sender,
    command: { constructor: { name: string } },
    doing: string,
    idempotence: Idempotence = 'safe',
  ): Promise<T> {
    const op = command.constructor.name.replace(/Command$/, '');
    try {
      return await retry<T>(() => client.send(command) as Promise<T>, {
        policy: this.opts.policy,
        clock: this.opts.clock,
        random: this.opts.random,
        classify: classifyAws(idempotence),
        onRetry: (i) => this.opts.onRetry?.({ op, ...i }),
      });
    } catch (err) {
      throw translateAws(this.driver, doing, err);
    }
  }
}
