import type { AuthenticationDetailsProvider } from 'oci-common';
import type { ContainerInstanceClient } from 'oci-containerinstances';
import type { VirtualNetworkClient } from 'oci-core';
import type { LoadBalancerClient } from 'oci-loadbalancer';
import { type Clock, realClock } from '../clock.js';
import { DEFAULT_RETRY, type RetryPolicy } from '../retry.js';
import { ociCommon, ociContainerInstances, ociCore, ociLoadBalancer } from './sdk.js';
import { RetryingHttpClient } from './transport.js';

export interface OciClientOptions {
  auth: AuthenticationDetailsProvider;
  /** e.g. `eu-frankfurt-1`; taken from the auth provider (config file) when absent. */
  region?: string | undefined;
  /**
   * One base URL for every service (tests: the in-process fake). Without it the SDK derives each
   * service's endpoint from the region.
   */
  endpoint?: string | undefined;
  retry?: Partial<RetryPolicy> | undefined;
  attemptTimeoutMs?: number | undefined;
  clock?: Clock | undefined;
  random?: (() => number) | undefined;
}

export interface OciClients {
  containerInstances: ContainerInstanceClient;
  loadBalancer: LoadBalancerClient;
  network: VirtualNetworkClient;
  clock: Clock;
  close(): Promise<void>;
}

/**
 * The SDK's own resilience is switched off so that there is exactly one retry layer (ours, in
 * `RetryingHttpClient`):
 * - its retrier (`OciSdkDefaultRetryConfiguration`: up to 8 attempts, its own backoff, no `Retry-After`)
 *   is given one attempt: retrying on top of our retries would multiply attempts (8 × 8) and sleep
 *   outside our deadline and our injected clock;
 * - its circuit breaker (opossum: opens at 80 % errors over 10+ calls, then fails every call for 30 s)
 *   is disabled: a deploy is a short sequence of calls whose transient errors our backoff absorbs, and a
 *   breaker opened by a burst of 429s would fail the rest of the deploy without trying.
 */
export function ociClients(opts: OciClientOptions): OciClients {
  const clock = opts.clock ?? realClock;
  const httpClient = new RetryingHttpClient({
    auth: opts.auth,
    policy: { ...DEFAULT_RETRY, ...opts.retry },
    attemptTimeoutMs: opts.attemptTimeoutMs ?? 30_000,
    clock,
    random: opts.random,
  });
  const clientConfiguration = {
    retryConfiguration: {
      terminationStrategy: new (ociCommon().MaxAttemptsTerminationStrategy)(1),
      retryCondition: () => false,
    },
    circuitBreaker: new (ociCommon().CircuitBreaker)({ disableClientCircuitBreaker: true }),
  };
  // The SDK takes either an auth provider or an HTTP client; ours signs with the provider itself.
  const params = { httpClient };
  const region =
    opts.region ?? (ociCommon().isRegionProvider(opts.auth) ? opts.auth.getRegion()?.regionId : undefined);
  const containerInstances = new (ociContainerInstances().ContainerInstanceClient)(
    params,
    clientConfiguration,
  );
  const loadBalancer = new (ociLoadBalancer().LoadBalancerClient)(params, clientConfiguration);
  const network = new (ociCore().VirtualNetworkClient)(params, clientConfiguration);
  for (const c of [containerInstances, loadBalancer, network]) {
    if (region) c.regionId = region;
    if (opts.endpoint) c.endpoint = opts.endpoint;
  }
  return {
    containerInstances,
    loadBalancer,
    network,
    clock,
    async close() {
      containerInstances.close();
      loadBalancer.close();
      network.close();
      await httpClient.close();
    },
  };
}

/** Credentials: the OCI config file (`~/.oci/config`, a profile) or the instance's principal. */
export type OciAuthSpec =
  | { configFile?: string | undefined; profile?: string | undefined }
  | 'instance-principal';

export async function ociAuth(spec: OciAuthSpec = {}): Promise<AuthenticationDetailsProvider> {
  if (spec === 'instance-principal')
    return new (ociCommon().InstancePrincipalsAuthenticationDetailsProviderBuilder)().build();
  return new (ociCommon().ConfigFileAuthenticationDetailsProvider)(
    spec.configFile,
    spec.profile ?? 'DEFAULT',
  );
}
