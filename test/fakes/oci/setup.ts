import type { Clock } from '../../../src/cloud/clock.js';
import { type OciClients, ociClients } from '../../../src/cloud/oci/clients.js';
import type { RetryPolicy } from '../../../src/cloud/retry.js';
import { testAuth } from './auth.js';
import type { FakeOci } from './fake-oci.js';

export const COMPARTMENT = 'ocid1.compartment.oc1..fake';
export const SUBNET = 'ocid1.subnet.oc1.fake.subnet';

/** Real SDK clients pointed at the fake, with Baton's retry layer tuned for tests. */
export function clientsFor(
  fake: FakeOci,
  opts: {
    clock?: Clock;
    retry?: Partial<RetryPolicy>;
    attemptTimeoutMs?: number;
    random?: () => number;
  } = {},
): OciClients {
  return ociClients({
    auth: testAuth(),
    region: 'eu-frankfurt-1',
    endpoint: fake.url,
    retry: { baseDelayMs: 1, maxDelayMs: 10, ...opts.retry },
    attemptTimeoutMs: opts.attemptTimeoutMs ?? 5000,
    clock: opts.clock,
    random: opts.random,
  });
}

/** A `runtime: oci` service spec running the fake's hello image. */
export function ociSpec(env: Record<string, string> = {}, port = 8080): Record<string, unknown> {
  return {
    runtime: 'oci',
    port,
    env,
    stopTimeout: 5000,
    containerInstance: {
      compartmentId: COMPARTMENT,
      availabilityDomain: 'GARu:EU-FRANKFURT-1-AD-3',
      shape: 'CI.Standard.A1.Flex',
      shapeConfig: { ocpus: 1, memoryInGBs: 1 },
      vnics: [{ subnetId: SUBNET }],
      containers: [{ displayName: 'app', imageUrl: 'ghcr.io/acme/hello:1' }],
    },
  };
}
