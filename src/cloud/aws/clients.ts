import type { ECSClient } from '@aws-sdk/client-ecs';
import type { ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import { type Clock, realClock } from '../clock.js';
import type { CallLog } from '../planned.js';
import { DEFAULT_RETRY, type RetryPolicy } from '../retry.js';
import { AwsCaller } from './call.js';
import { ecsSdk, elbSdk } from './sdk.js';

export interface AwsClientOptions {
  /** e.g. `us-east-1`; the SDK's default chain (AWS_REGION, the profile) when absent. */
  region?: string | undefined;
  /** One endpoint for every service (tests, LocalStack). */
  endpoint?: string | undefined;
  retry?: Partial<RetryPolicy> | undefined;
  /** One attempt's limit (default 30 s): a hung request becomes a retryable failure, not a stuck deploy. */
  attemptTimeoutMs?: number | undefined;
  clock?: Clock | undefined;
  random?: (() => number) | undefined;
}

export interface AwsClients {
  ecs: ECSClient;
  elb: ElasticLoadBalancingV2Client;
  /** Retries and translates every call (ECS and ELBv2 drivers alike); with `dryRun`, records writes. */
  caller(driver: string, dryRun?: CallLog): AwsCaller;
  clock: Clock;
  close(): void;
}

/**
 * Credentials come from the SDK's default chain (env, profile, SSO, container or instance role).
 * `maxAttempts: 1` turns the SDK's own retry strategy (standard mode: 3 attempts, its own backoff and
 * token bucket) into a single attempt: `AwsCaller` is the one retry layer, so attempts do not multiply
 * and every wait runs on the injected clock, within one deadline.
 */
export function awsClients(opts: AwsClientOptions = {}): AwsClients {
  const base = {
    maxAttempts: 1,
    requestHandler: { requestTimeout: opts.attemptTimeoutMs ?? 30_000, connectionTimeout: 5_000 },
    ...(opts.region ? { region: opts.region } : {}),
    ...(opts.endpoint ? { endpoint: opts.endpoint } : {}),
  };
  return withClients(new (ecsSdk().ECSClient)(base), new (elbSdk().ElasticLoadBalancingV2Client)(base), opts);
}

/** The same over given clients (tests: clients whose `send` is mocked by aws-sdk-client-mock). */
export function withClients(
  ecs: ECSClient,
  elb: ElasticLoadBalancingV2Client,
  opts: Pick<AwsClientOptions, 'retry' | 'clock' | 'random'> = {},
): AwsClients {
  const clock = opts.clock ?? realClock;
  const policy = { ...DEFAULT_RETRY, ...opts.retry };
  return {
    ecs,
    elb,
    clock,
    caller: (driver, dryRun) => new AwsCaller(driver, { policy, clock, random: opts.random, dryRun }),
    close() {
      ecs.destroy();
      elb.destroy();
    },
  };
}
