import { DescribeServicesCommand, ECSClient } from '@aws-sdk/client-ecs';
import { describe, expect, it } from 'vitest';
import { classifyAws } from '../../src/cloud/aws/call.js';
import { awsClients, withClients } from '../../src/cloud/aws/clients.js';
import { VirtualClock } from '../../src/cloud/clock.js';
import { awsError, serverError, throttling } from '../fakes/aws/faults.js';

const fail = (error: unknown) => ({ ok: false as const, error });

describe('AWS retry layer', () => {
  it('retries throttling (400 Throttling/ThrottlingException, 429) and 5xx but 501; not client errors', () => {
    const safe = classifyAws('safe');
    expect(safe(fail(throttling('ecs')))).toMatchObject({ retry: true });
    expect(safe(fail(throttling('elb')))).toMatchObject({ retry: true });
    expect(safe(fail(awsError('TooManyRequestsException', 429, 'slow down')))).toMatchObject({ retry: true });
    expect(safe(fail(serverError('ecs')))).toMatchObject({ retry: true, reason: 'HTTP 500' });
    expect(safe(fail(awsError('ServiceUnavailable', 503, 'x')))).toMatchObject({ retry: true });
    expect(safe(fail(awsError('NotImplemented', 501, 'x')))).toMatchObject({ retry: false });
    expect(safe(fail(awsError('InvalidParameterException', 400, 'x')))).toMatchObject({ retry: false });
    expect(safe(fail(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' })))).toMatchObject({
      retry: true,
    });
    expect(safe({ ok: true, value: 1 })).toEqual({ retry: false });
  });

  it('a write without an idempotency token is retried only when throttled: a 5xx may have run', () => {
    const unsafe = classifyAws('unsafe');
    expect(unsafe(fail(throttling('ecs')))).toMatchObject({ retry: true });
    expect(unsafe(fail(serverError('ecs')))).toMatchObject({ retry: false });
  });

  it('backs off on the injected clock and translates the final error with AWS’s name and request id', async () => {
    const clock = new VirtualClock();
    const ecs = new ECSClient({
      region: 'us-east-1',
      credentials: { accessKeyId: 'x', secretAccessKey: 'y' },
    });
    let n = 0;
    ecs.send = (async () => {
      n++;
      throw throttling('ecs');
    }) as never;
    const aws = withClients(ecs, {} as never, {
      clock,
      random: () => 1,
      retry: { maxAttempts: 4, baseDelayMs: 100, maxDelayMs: 1000, deadlineMs: 60_000 },
    }).caller('ecs');
    await expect(
      aws.call(ecs, new DescribeServicesCommand({ services: ['x'] }), 'describe x'),
    ).rejects.toMatchObject({
      code: 'DRIVER',
      message: expect.stringMatching(
        /^ecs: describe x: 400 ThrottlingException: Rate exceeded \(request id req-\d+\)$/,
      ),
    });
    expect(n).toBe(4);
    expect(clock.sleeps).toEqual([100, 200, 400]);
  });

  it('the SDK clients make one attempt each: ours is the only retry layer', async () => {
    const c = awsClients({ region: 'us-east-1' });
    expect(await c.ecs.config.maxAttempts()).toBe(1);
    expect(await c.elb.config.maxAttempts()).toBe(1);
    c.close();
  });
});
