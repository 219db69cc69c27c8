import { describe, expect, it } from 'vitest';
import { DriverError } from '../../src/core/errors.js';
import { FakeRouter } from '../../src/router/fake/fake-router.js';

describe('FakeRouter extras', () => {
  const setup = async () => {
    const r = new FakeRouter();
    await r.ensureRoute({ service: 'web', listen: '127.0.0.1:8080', drainTimeoutMs: 1000 });
    await r.addBackends('web', [
      { id: 'a', address: '127.0.0.1:1', revision: 1 },
      { id: 'b', address: '127.0.0.1:2', revision: 2 },
    ]);
    return r;
  };

  it('records calls and fails on demand, once per failNext', async () => {
    const r = await setup();
    r.failNext('switchTo', new DriverError('fake', 'boom'));
    await expect(r.switchTo('web', ['b'])).rejects.toThrow('fake: boom');
    await r.switchTo('web', ['b']);
    expect(r.callsOf('switchTo')).toEqual([
      ['web', ['b']],
      ['web', ['b']],
    ]);
    expect(r.calls.map((c) => c.op)).toEqual(['ensureRoute', 'addBackends', 'switchTo', 'switchTo']);
  });

  it('waitDrained follows the in-flight counts a test sets', async () => {
    const r = await setup();
    await r.switchTo('web', ['b']);
    r.setInFlight('web', 'a', 2, 1);
    expect(await r.waitDrained('web', ['a'], 20)).toMatchObject({ drained: false, inFlight: 3 });
    const waiting = r.waitDrained('web', ['a'], 10_000);
    r.setInFlight('web', 'a', 1);
    r.setInFlight('web', 'a', 0);
    expect(await waiting).toMatchObject({ drained: true, inFlight: 0 });
  });

  it('serves revision counters a test sets', async () => {
    const r = await setup();
    r.setRevisionStats('web', {
      revision: 2,
      requests: 10,
      errors: 1,
      latency: { bounds: [1], counts: [9, 1] },
    });
    expect((await r.status('web'))?.revisions.find((x) => x.revision === 2)).toMatchObject({
      requests: 10,
      errors: 1,
    });
  });
});
