import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { type HelloFixture, helloFixture } from '../helpers/baton.js';
import { startLoad } from '../helpers/load.js';
import { waitFor } from '../helpers/wait.js';

const canary = (steps: string, analysis = '{ interval: 1s }') =>
  `{ type: canary, steps: ${steps}, analysis: ${analysis} }`;

describe('canary deploys judged by the proxy counters', () => {
  let f: HelloFixture | undefined;
  afterEach(async () => {
    await f?.close();
    f = undefined;
  });

  it('a canary with 5% errors is aborted automatically at 100 requests/s with at most 20 failed user requests', async () => {
    f = await helloFixture({ version: 'v1' });
    const load = startLoad(f.base, { rps: 100 });
    const r = await f.deploy(
      { version: 'v2', env: { FAIL_RATE: '0.05' }, strategy: canary('[{ setWeight: 20 }, { pause: 10m }]') },
      ['--json'],
    );
    const report = await load.stop();
    expect(r.code, r.stderr).toBe(1);
    const result = JSON.parse(r.stdout).results[0];
    expect(result.message).toMatch(/canary analysis aborted: .*error/i);
    expect(report.failed).toBeLessThanOrEqual(20);
    expect(report.failed).toBeGreaterThan(0);
    const h = await f.history();
    const failed = h.revisions.find((x) => x.number === 2)!;
    expect(failed.status).toBe('failed');
    // The measured figures are in history.
    expect(failed.reason).toMatch(/canary errors [\d.]+% \(\d+\/\d+\) vs stable/);
    const s = await f.status();
    expect(s.split).toBeNull();
    expect(s.instances.map((i) => [i.revision, i.routed])).toEqual([
      [1, 'active'],
      [1, 'active'],
    ]);
  });

  it('a healthy canary is promoted by the analysis and rolled out: 0 failed requests', async () => {
    f = await helloFixture({ version: 'v1' });
    const load = startLoad(f.base, { rps: 100 });
    const r = await f.deploy({ version: 'v2', strategy: canary('[{ setWeight: 20 }]') });
    const report = await load.stop();
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/analysis: promote/);
    expect(report.errors).toEqual([]);
    expect(report.bodies.get('hello from v2')).toBeGreaterThan(0);
    const s = await f.status();
    expect(s.instances.map((i) => i.revision)).toEqual([2, 2]);
    expect(s.split).toBeNull();
  });

  it('at 1 request/s the analysis waits and says why instead of deciding; abort rolls back', async () => {
    f = await helloFixture({ version: 'v1' });
    const load = startLoad(f.base, { rps: 1 });
    const deploying = f.deploy({
      version: 'v2',
      strategy: canary('[{ setWeight: 50 }]', '{ interval: 500ms, deadline: 4s }'),
    });
    await waitFor(async () => (await f!.status()).waiting === 'analysis', {
      timeoutMs: 30_000,
      message: 'the analysis to give up and wait for a human',
    });
    const abort = await f.cli(['abort', 'hello', '--reason', 'too little traffic to judge']);
    expect(abort.code, abort.stderr).toBe(0);
    const r = await deploying;
    await load.stop();
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/analysis: wait: not enough traffic/);
    expect(r.stderr).toMatch(/could not decide before its deadline/);
    expect(r.stderr).toMatch(/too little traffic to judge/);
    // Both replicas of revision 1, none of the aborted canary (an empty list would not pass).
    expect((await f.status()).instances.map((i) => i.revision)).toEqual([1, 1]);
  });

  it('sticky assignment keeps a client with the cookie on one revision for the whole canary; forced routing by header', async () => {
    f = await helloFixture({ version: 'v1' });
    const deploying = f.deploy({
      version: 'v2',
      strategy: '{ type: canary, steps: [{ setWeight: 50 }, { pause: {} }] }',
    });
    await waitFor(async () => (await f!.status()).waiting === 'promotion', { timeoutMs: 30_000 });
    const first = await request(`${f.base}/`);
    const cookie = String(first.headers['set-cookie']).split(';')[0]!;
    expect(cookie).toMatch(/^baton-sticky-hello=[12]$/);
    const mine = (await first.body.text()).trim();
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const r = await request(`${f.base}/`, { headers: { cookie } });
      seen.add((await r.body.text()).trim());
    }
    expect([...seen]).toEqual([mine]);
    // Without the cookie both revisions answer; testers can force the canary.
    const anonymous = new Set<string>();
    for (let i = 0; i < 40; i++) anonymous.add((await (await request(`${f.base}/`)).body.text()).trim());
    expect([...anonymous].sort()).toEqual(['hello from v1', 'hello from v2']);
    const forced = await request(`${f.base}/`, { headers: { 'x-baton-revision': 'canary' } });
    expect((await forced.body.text()).trim()).toBe('hello from v2');
    expect((await f.cli(['promote', 'hello'])).code).toBe(0);
    expect((await deploying).code).toBe(0);
  });

  it("marathon-lb's flow: one canary instance (new +1, old -1), a visible hybrid state, then one at a time", async () => {
    f = await helloFixture({ version: 'v1', replicas: 3 });
    const load = startLoad(f.base, { rps: 100 });
    const deploying = f.deploy({
      version: 'v2',
      replicas: 3,
      strategy: '{ type: canary, steps: [{ setInstances: 1 }, { pause: {} }] }',
    });
    await waitFor(async () => (await f!.status()).waiting === 'promotion', { timeoutMs: 30_000 });
    const hybrid = await f.status();
    expect(
      hybrid.instances
        .filter((i) => i.routed === 'active')
        .map((i) => i.revision)
        .sort(),
    ).toEqual([1, 1, 2]);
    const human = await f.cli(['status']);
    expect(human.stdout).toMatch(/hybrid: traffic shared by instances of revisions 1 and 2/);
    expect(human.stdout).toMatch(/deploying \(\w+, waiting for promotion\)/);
    expect((await f.cli(['promote', 'hello'])).code).toBe(0);
    const r = await deploying;
    const report = await load.stop();
    expect(r.code, r.stderr).toBe(0);
    // After the promotion the rest went one instance at a time.
    expect(r.stderr.match(/start 1 instance\(s\) of revision 2/g)).toHaveLength(3);
    expect(report.errors).toEqual([]);
    expect((await f.status()).instances.map((i) => i.revision)).toEqual([2, 2, 2]);
  });
});
