import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { baton, type HelloFixture, type HelloSpec, helloFixture, writeHello } from '../helpers/baton.js';
import { startLoad } from '../helpers/load.js';

interface DeployJson {
  ok: boolean;
  results: Array<{
    ok: boolean;
    revision: number;
    message: string;
    state: string;
    error?: { code: string; details?: { instance?: string } };
  }>;
}

describe('a bad version is refused and the old one keeps serving', () => {
  let f: HelloFixture;

  beforeAll(async () => {
    f = await helloFixture({ version: 'v1' });
  });

  afterAll(async () => {
    await f?.close();
  });

  const cases: Array<{ name: string; spec: Partial<HelloSpec>; expect: RegExp }> = [
    {
      name: 'crashes on boot',
      spec: { env: { CRASH_ON_BOOT: '1' } },
      expect: /exited with code 1 before it became healthy[\s\S]*CRASH_ON_BOOT/,
    },
    {
      name: 'never passes its probe (never listens in time)',
      spec: { env: { BOOT_DELAY_MS: '60000' }, startTimeout: '2s' },
      expect: /did not pass its probe within 2s; last probe: connection refused/,
    },
    {
      name: 'answers its probe with 500',
      spec: { env: { HEALTH: 'fail' }, startTimeout: '2s' },
      expect: /did not pass its probe within 2s; last probe: HTTP 500 from GET \/health \(expected 200\)/,
    },
  ];

  for (const c of cases) {
    it(`v2 that ${c.name}: deploy exits 1 naming the instance and the probe result; v1 serves with 0 failed requests`, async () => {
      const load = startLoad(f.base, { rps: 200 });
      writeHello(f.ws, { version: 'v2', listen: f.port, ...c.spec });
      const r = await baton(['deploy', '-f', f.ws.specFile, '--json'], { dataDir: f.ws.dataDir });
      expect(r.code, r.stderr).toBe(1);
      const out = JSON.parse(r.stdout) as DeployJson;
      const result = out.results[0]!;
      expect(out.ok).toBe(false);
      expect(result.state).toBe('rolled-back');
      expect(result.message).toMatch(c.expect);
      expect(result.message).toMatch(/instance hello-r\d+-[0-9a-f]+-1 /);
      expect(result.message).toMatch(/revision 1 keeps serving/);
      expect(result.error?.details?.instance).toMatch(/^hello-r\d+-/);

      const report = await load.stop();
      expect(report.errors).toEqual([]);
      expect(report.failed).toBe(0);
      expect([...report.bodies.keys()]).toEqual(['hello from v1']);

      const history = JSON.parse(
        (await baton(['history', 'hello', '--json'], { dataDir: f.ws.dataDir })).stdout,
      ) as {
        current: number;
        revisions: Array<{ number: number; status: string; reason?: string }>;
      };
      expect(history.current).toBe(1);
      const failed = history.revisions.find((rev) => rev.number === result.revision)!;
      expect(failed.status).toBe('failed');
      expect(failed.reason).toMatch(c.expect);

      const status = JSON.parse((await baton(['status', '--json'], { dataDir: f.ws.dataDir })).stdout) as {
        services: Array<{ instances: Array<{ revision: number; routed: string; healthy: boolean }> }>;
      };
      // Full capacity of v1, nothing of the failed revision left behind.
      expect(status.services[0]!.instances.map((i) => [i.revision, i.routed, i.healthy])).toEqual([
        [1, 'active', true],
        [1, 'active', true],
      ]);
    });
  }

  it('human output names the instance and what its probe saw', async () => {
    writeHello(f.ws, { version: 'v2', listen: f.port, env: { HEALTH: 'fail' }, startTimeout: '1s' });
    const r = await baton(['deploy', '-f', f.ws.specFile], { dataDir: f.ws.dataDir });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/probe fail: HTTP 500 from GET \/health \(expected 200\)/);
    expect(r.stderr).toMatch(
      /✗ deploy of hello revision \d+ failed: instance hello-r\d+-\w+-1 did not pass its probe/,
    );
    expect(r.stderr).toMatch(/rolled back, revision 1 keeps serving/);
  });
});
