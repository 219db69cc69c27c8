import { afterEach, describe, expect, it } from 'vitest';
import { httpGet } from '../helpers/http.js';
import { type OciEngine, ociEngine, ociService } from './oci-harness.js';

/**
 * Every strategy through Baton's engine with runtime oci + router oci-lb (the real drivers and SDK
 * against the in-process fake). The load balancer's health check gates traffic (probe.by: router).
 */
describe('engine × runtime oci × router oci-lb: strategies', () => {
  let env: OciEngine;
  afterEach(async () => env.close());

  const ips = async () => (await env.deps.runtime.list('web')).map((i) => `${i.host}:${i.port}`).sort();

  it('the spec defaults: the load balancer gates traffic, with a health checker from the probe', async () => {
    env = await ociEngine();
    const s = ociService('v1');
    expect(s.probe.by).toBe('router');
    expect(s.traffic.router).toMatchObject({
      kind: 'oci-lb',
      healthChecker: { protocol: 'HTTP', urlPath: '/', returnCode: 200, port: 0 },
    });
  });

  it('replace: v1 → v2, v2 alone in the backend set, v1 deleted', async () => {
    env = await ociEngine();
    expect(await env.deploy(ociService('v1', { replicas: 2 }))).toMatchObject({ ok: true });
    const r = await env.deploy(ociService('v2', { replicas: 2 }));
    expect(r).toMatchObject({ ok: true, revision: 2 });
    expect(env.live()).toEqual([2, 2]);
    expect(env.backends().map((b) => b[0])).toEqual((await ips()).map((a) => a.split(':')[0]));
    expect(env.backends().every((b) => b[1] === false && b[2] === false)).toBe(true);
    const [a] = await env.deps.runtime.list('web');
    expect((await httpGet(a!.host, a!.port, '/')).body).toContain('hello from v2');
    expect(
      env.events.some((e) => e.type === 'instance' && /load balancer's health check/.test(e.message)),
    ).toBe(true);
  });

  it('rolling (maxSurge 1, maxUnavailable 0): one at a time, capacity never below 2 serving backends', async () => {
    env = await ociEngine();
    const rolling = { replicas: 2, strategy: { type: 'rolling', maxSurge: 1, maxUnavailable: 0 } };
    expect(await env.deploy(ociService('v1', rolling))).toMatchObject({ ok: true });
    let least = Number.POSITIVE_INFINITY;
    const seen = setInterval(() => {
      const serving = env.backends().filter((b) => !b[1] && !b[2]).length;
      least = Math.min(least, serving);
    }, 1);
    const r = await env.deploy(ociService('v2', rolling));
    clearInterval(seen);
    expect(r).toMatchObject({ ok: true, revision: 2 });
    expect(env.live()).toEqual([2, 2]);
    expect(least).toBeGreaterThanOrEqual(2);
    expect(env.backends()).toHaveLength(2);
  });

  it('blue-green (no preview listener on OCI): the new set waits offline, then one switch', async () => {
    env = await ociEngine();
    const bg = { replicas: 2, strategy: { type: 'blue-green', autoPromote: '0s', scaleDownDelay: '0s' } };
    expect(await env.deploy(ociService('v1', bg))).toMatchObject({ ok: true });
    const creates: string[] = [];
    env.fake.calls.length = 0;
    const r = await env.deploy(ociService('v2', bg));
    expect(r).toMatchObject({ ok: true, revision: 2 });
    for (const c of env.fake.calls)
      if (c.op === 'CreateBackend' && c.status < 400) creates.push(JSON.stringify(c.body));
    // Both new backends were created standby (offline), made serving only at the switch.
    expect(creates).toHaveLength(2);
    expect(creates.every((b) => b.includes('"offline":true'))).toBe(true);
    expect(env.live()).toEqual([2, 2]);
    expect(env.backends().every((b) => b[1] === false && b[2] === false)).toBe(true);
  });

  it('canary: the split is backend weights, 90/10 then 50/50, then all to v2', async () => {
    env = await ociEngine();
    const canary = {
      replicas: 1,
      strategy: { type: 'canary', steps: [{ setWeight: 10 }, { setWeight: 50 }] },
    };
    expect(await env.deploy(ociService('v1', canary))).toMatchObject({ ok: true });
    env.fake.calls.length = 0;
    const r = await env.deploy(ociService('v2', canary));
    expect(r).toMatchObject({ ok: true, revision: 2 });
    const weights = env.fake.calls
      .filter((c) => (c.op === 'UpdateBackend' || c.op === 'CreateBackend') && c.status < 400)
      .map((c) => (c.body as { weight: number; drain: boolean }).weight);
    // 90/10 over one backend each: 100/11; 50/50: 100/100.
    expect(weights).toEqual(expect.arrayContaining([11, 100]));
    expect(env.live()).toEqual([2]);
    expect(env.backends().map((b) => [b[1], b[2]])).toEqual([[false, false]]);
  });
});
