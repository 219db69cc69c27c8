import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FakeAlbHttp } from '../fakes/aws/alb-http.js';
import { LISTENER_ARN } from '../fakes/aws/elb.js';
import { setup, spec, tasksOf } from '../fakes/aws/engine.js';
import { httpGet } from '../helpers/http.js';

/** The seed's last step — `curl http://$ELB_DNS_NAME | grep …` — as a Baton check through the (fake) ALB. */
describe('post-deploy check through the ALB’s DNS name', () => {
  let env: ReturnType<typeof setup>;
  let alb: FakeAlbHttp;
  let url: string;
  beforeEach(async () => {
    env = setup();
    alb = new FakeAlbHttp(env.fake.elb);
    await alb.start();
    url = `http://127.0.0.1:${env.fake.elb.listeners.get(LISTENER_ARN)?.Port}`;
  });
  afterEach(async () => {
    await env.runtime.close();
    await env.router.close();
    await alb.close();
    await env.fake.close();
  });

  const checked = (bodyContains: string) => ({
    strategy: {
      type: 'canary',
      steps: [{ setWeight: 100 }, { check: { http: { url: `${url}/`, bodyContains } } }],
    },
  });

  /** Requests through the ALB while `during` runs: how many answered, and every failure's text. */
  async function underLoad<T>(
    during: () => Promise<T>,
  ): Promise<{ result: T; ok: number; failed: string[] }> {
    let done = false;
    let ok = 0;
    const failed: string[] = [];
    const loop = (async () => {
      while (!done) {
        const r = await httpGet('127.0.0.1', Number(url.split(':').pop()), '/').catch((e: Error) => ({
          status: 0,
          body: e.message,
        }));
        if (r.status === 200) ok++;
        else failed.push(`${r.status} ${r.body}`);
      }
    })();
    const result = await during();
    done = true;
    await loop;
    return { result, ok, failed };
  }

  it('passes through the ALB: the router’s URL is the listener on the ALB’s DNS name; no request fails', async () => {
    const { deploy, router, fake } = env;
    expect(await deploy(spec('v1', checked('hello from v1')))).toMatchObject({ ok: true });
    expect(router.url('web')).toBe(url);
    const run = await underLoad(() => deploy(spec('v2', checked('hello from v2'))));
    expect(run.result).toMatchObject({ ok: true, revision: 2 });
    expect(run.failed).toEqual([]);
    expect(run.ok).toBeGreaterThan(0);
    expect((await httpGet('127.0.0.1', Number(url.split(':').pop()), '/')).body).toBe('hello from v2\n');
    expect(fake.elb.serving()).toEqual(tasksOf(fake, 'baton-web:2'));
  });

  it('a failing check rolls back: v1 answers through the ALB again, the error says what the check saw', async () => {
    const { deploy } = env;
    expect(await deploy(spec('v1', checked('hello from v1')))).toMatchObject({ ok: true });
    const run = await underLoad(() => deploy(spec('v2', checked('Hello World!'))));
    expect(run.result).toMatchObject({ ok: false, state: 'rolled-back' });
    expect(run.result.error?.message).toMatch(/check failed: .*Hello World!/);
    expect(run.failed).toEqual([]);
    expect((await httpGet('127.0.0.1', Number(url.split(':').pop()), '/')).body).toBe('hello from v1\n');
  });
});
