import { describe, expect, it } from 'vitest';
import { Ring } from '../../src/dashboard/ring.js';
import { Sampler, type ServicePoint } from '../../src/dashboard/sampler.js';
import type { RevisionStats, RouteStatus } from '../../src/router/router.js';

const BOUNDS = [10, 50, 100];
const stats = (revision: number, requests: number, errors: number, counts: number[]): RevisionStats => ({
  revision,
  requests,
  errors,
  latency: { bounds: BOUNDS, counts },
});

describe('Ring', () => {
  it('keeps the newest items, oldest first', () => {
    const r = new Ring<number>(3);
    for (const i of [1, 2, 3, 4, 5]) r.push(i);
    expect(r.toArray()).toEqual([3, 4, 5]);
    expect(r.size).toBe(3);
  });
});

describe('Sampler', () => {
  const setup = (intervalMs = 2000) => {
    let clock = 0;
    const revisions = new Map<string, RevisionStats[]>();
    const sampler = new Sampler(
      {
        services: async () => [...revisions.keys()],
        status: async (s) =>
          ({ service: s, listen: '', backends: [], revisions: revisions.get(s) ?? [] }) as RouteStatus,
      },
      { intervalMs, windowMs: 3 * intervalMs, now: () => clock },
    );
    const tick = async (ms: number, web: RevisionStats[]) => {
      clock += ms;
      revisions.set('web', web);
      await sampler.sample();
    };
    return { sampler, tick };
  };

  it('turns cumulative counters into per-interval rate, error rate and p99, per revision', async () => {
    const { sampler, tick } = setup();
    const seen: ServicePoint[] = [];
    sampler.onPoint((_s, p) => seen.push(p));
    await tick(0, [stats(1, 100, 0, [100, 0, 0, 0])]);
    // The first reading is only the baseline.
    expect(sampler.series('web')).toEqual([]);
    await tick(2000, [stats(1, 300, 2, [150, 49, 1, 0]), stats(2, 10, 1, [0, 0, 10, 0])]);
    const [p] = sampler.series('web');
    expect(p).toEqual({
      t: 2000,
      revisions: {
        '1': { rps: 100, errorRate: 0.01, p99Ms: 50, requests: 200, errors: 2 },
        '2': { rps: 5, errorRate: 0.1, p99Ms: 100, requests: 10, errors: 1 },
      },
    });
    expect(seen).toEqual([p]);
  });

  it('keeps only the window (15 minutes by default), and starts over when counters go back (a proxy restart)', async () => {
    const { sampler, tick } = setup(1000);
    await tick(0, [stats(1, 0, 0, [0, 0, 0, 0])]);
    for (let i = 1; i <= 5; i++) await tick(1000, [stats(1, i * 10, 0, [i * 10, 0, 0, 0])]);
    expect(sampler.series('web').map((p) => p.t)).toEqual([3000, 4000, 5000]);
    await tick(1000, [stats(1, 4, 0, [4, 0, 0, 0])]);
    expect(sampler.series('web').at(-1)?.revisions['1']).toMatchObject({ requests: 4, rps: 4 });
    expect(new Sampler({ services: async () => [], status: async () => undefined }).intervalMs).toBe(2000);
  });
});
