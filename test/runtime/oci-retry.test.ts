import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { VirtualClock } from '../../src/cloud/clock.js';
import type { OciClients } from '../../src/cloud/oci/clients.js';
import { ociCall } from '../../src/cloud/oci/errors.js';
import {
  backoffMs,
  DEFAULT_RETRY,
  delayMs,
  isRetryableStatus,
  parseRetryAfter,
  type RetryPolicy,
  retry,
} from '../../src/cloud/retry.js';
import { DriverError, UnavailableError } from '../../src/core/errors.js';
import { FakeOci } from '../fakes/oci/fake-oci.js';
import { COMPARTMENT, clientsFor } from '../fakes/oci/setup.js';

const policy: RetryPolicy = { maxAttempts: 5, baseDelayMs: 100, maxDelayMs: 1000, deadlineMs: 10_000 };

describe('retry: backoff with full jitter', () => {
  it('a delay is within [0, min(max, base·2^n)] and at least the Retry-After', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 30 }),
        fc.option(fc.integer({ min: 0, max: 60_000 }), { nil: undefined }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (n, retryAfter, r) => {
          const cap = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** n);
          const b = backoffMs(n, policy, () => r);
          expect(b).toBeGreaterThanOrEqual(0);
          expect(b).toBeLessThanOrEqual(cap);
          const d = delayMs(n, retryAfter, policy, () => r);
          expect(d).toBe(Math.max(retryAfter ?? 0, b));
        },
      ),
    );
  });

  it('never makes more than maxAttempts attempts nor waits past the deadline, whatever fails', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.boolean(), { minLength: 1, maxLength: 12 }),
        fc.option(fc.integer({ min: 0, max: 5000 }), { nil: undefined }),
        async (fails, retryAfterMs) => {
          const clock = new VirtualClock();
          let attempts = 0;
          const out = await retry(
            async (n) => {
              attempts++;
              if (fails[n] ?? false) throw new Error(`fail ${n}`);
              return n;
            },
            { policy, clock, random: () => 0.999, classify: (o) => ({ retry: !o.ok, retryAfterMs }) },
          ).catch((e: Error) => e);
          expect(attempts).toBeLessThanOrEqual(policy.maxAttempts);
          expect(clock.now()).toBeLessThanOrEqual(policy.deadlineMs);
          // Attempts past the list succeed.
          const firstOk = fails.findIndex((f) => !f) === -1 ? fails.length : fails.findIndex((f) => !f);
          if (out instanceof Error) expect(out.message).toBe(`fail ${attempts - 1}`);
          else expect(out).toBe(firstOk);
        },
      ),
    );
  });

  it('returns a final answer as it is and does not retry what classify calls final', async () => {
    const clock = new VirtualClock();
    let n = 0;
    const got = await retry(async () => ++n, {
      policy,
      clock,
      classify: (o) => ({ retry: o.ok && o.value < 3 }),
    });
    expect(got).toBe(3);
    expect(clock.sleeps).toHaveLength(2);
  });

  it('parses Retry-After as seconds or an HTTP date; 429 and 5xx (not 501) are retryable', () => {
    const now = Date.parse('2026-11-22T00:00:00Z');
    expect(parseRetryAfter('3', now)).toBe(3000);
    expect(parseRetryAfter('Sun, 22 Nov 2026 00:00:05 GMT', now)).toBe(5000);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(null, now)).toBeUndefined();
    expect([429, 500, 502, 503, 504, 400, 401, 404, 409, 501].map(isRetryableStatus)).toEqual([
      true,
      true,
      true,
      true,
      true,
      false,
      false,
      false,
      false,
      false,
    ]);
    expect(DEFAULT_RETRY.maxAttempts).toBe(8);
  });
});

describe('retry at the OCI transport, through the real SDK', () => {
  let fake: FakeOci;
  let clients: OciClients;
  afterEach(async () => {
    await clients?.close();
    await fake.close();
  });
  const list = () =>
    ociCall('oci', 'list', () => clients.loadBalancer.listLoadBalancers({ compartmentId: COMPARTMENT }));

  it("waits at least the server's Retry-After, then succeeds; the SDK itself retries nothing", async () => {
    fake = await FakeOci.start();
    const clock = new VirtualClock();
    clients = clientsFor(fake, { clock });
    fake.failNext('ListLoadBalancers', { status: 429, retryAfterSeconds: 7, times: 2 });
    await list();
    expect(fake.calls.map((c) => c.status)).toEqual([429, 429, 200]);
    expect(clock.sleeps).toHaveLength(2);
    for (const ms of clock.sleeps) expect(ms).toBeGreaterThanOrEqual(7000);
  });

  it('gives up after maxAttempts with a DriverError carrying status, code, message and opc-request-id', async () => {
    fake = await FakeOci.start();
    clients = clientsFor(fake, { clock: new VirtualClock(), retry: { maxAttempts: 3 } });
    fake.failNext('ListLoadBalancers', { status: 500, times: 5 });
    const err = await list().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DriverError);
    expect((err as Error).message).toMatch(
      /^oci: list: 500 InternalServerError: Internal error \(injected\) \(opc-request-id [0-9a-f-]{36}\)$/,
    );
    expect(fake.calls).toHaveLength(3);
  });

  it('does not retry a 4xx', async () => {
    fake = await FakeOci.start();
    clients = clientsFor(fake, { clock: new VirtualClock() });
    const err = await ociCall('oci', 'list', () =>
      clients.loadBalancer.listLoadBalancers({ compartmentId: '' }),
    ).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/^oci: list: 400 MissingParameter: compartmentId is required/);
    expect(fake.calls).toHaveLength(1);
  });

  it('an endpoint that does not answer is an UnavailableError after the retries', async () => {
    fake = await FakeOci.start();
    await fake.close();
    clients = clientsFor(fake, { clock: new VirtualClock(), retry: { maxAttempts: 2 } });
    const err = await list().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnavailableError);
    expect((err as Error).message).toMatch(/^oci: list: OCI not reachable: /);
  });
});
