import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { plan } from '../../src/plan/plan.js';
import { resolveBudget } from '../../src/plan/rolling.js';
import { simulate } from '../../src/plan/simulate.js';
import type { ObservedInstance, PlanInput } from '../../src/plan/types.js';

const old = (n: number, revision = 1): ObservedInstance[] =>
  Array.from({ length: n }, (_, i) => ({ id: `web-old-${i + 1}`, revision, ready: true }));
const id = (n: number) => `web-r2-dep12345-${n}`;
const base = { service: 'web', deployment: 'dep12345xyz', revision: 2 } as const;

describe('replace', () => {
  it('starts the whole new set, switches atomically, then drains and stops the old set', () => {
    const p = plan({ ...base, replicas: 2, strategy: { type: 'replace' }, observed: old(2) });
    expect(p.steps).toEqual([
      { op: 'start', revision: 2, instances: [id(1), id(2)] },
      { op: 'await-healthy', instances: [id(1), id(2)] },
      { op: 'switch', instances: [id(1), id(2)] },
      { op: 'drain', instances: ['web-old-1', 'web-old-2'] },
      { op: 'stop', instances: ['web-old-1', 'web-old-2'] },
    ]);
  });

  it('first deploy has nothing to drain', () => {
    const p = plan({ ...base, replicas: 1, strategy: { type: 'replace' }, observed: [] });
    expect(p.steps.map((s) => s.op)).toEqual(['start', 'await-healthy', 'switch']);
  });

  it('removes broken instances first and is a no-op when converged', () => {
    const broken = { id: 'web-r2-x-1', revision: 2, ready: false };
    const p = plan({ ...base, replicas: 1, strategy: { type: 'replace' }, observed: [broken] });
    expect(p.steps[0]).toEqual({ op: 'drain', instances: ['web-r2-x-1'] });
    const done = plan({
      ...base,
      replicas: 1,
      strategy: { type: 'replace' },
      observed: [{ id: 'a', revision: 2, ready: true }],
    });
    expect(done.steps).toEqual([]);
  });
});

describe('rolling', () => {
  it('resolves budgets as Kubernetes does', () => {
    expect(resolveBudget(2, '25%', '25%')).toEqual({ surge: 1, unavailable: 0 });
    expect(resolveBudget(10, '25%', '25%')).toEqual({ surge: 3, unavailable: 2 });
    expect(resolveBudget(3, 0, 0)).toEqual({ surge: 1, unavailable: 0 });
    expect(resolveBudget(4, 0, '50%')).toEqual({ surge: 0, unavailable: 2 });
  });

  it('replaces one at a time with surge 1 and no unavailability', () => {
    const p = plan({
      ...base,
      replicas: 2,
      strategy: { type: 'rolling', maxSurge: 1, maxUnavailable: 0 },
      observed: old(2),
    });
    expect(p.steps).toEqual([
      { op: 'start', revision: 2, instances: [id(1)] },
      { op: 'await-healthy', instances: [id(1)] },
      { op: 'route', instances: [id(1)] },
      { op: 'drain', instances: ['web-old-1'] },
      { op: 'stop', instances: ['web-old-1'] },
      { op: 'start', revision: 2, instances: [id(2)] },
      { op: 'await-healthy', instances: [id(2)] },
      { op: 'route', instances: [id(2)] },
      { op: 'drain', instances: ['web-old-2'] },
      { op: 'stop', instances: ['web-old-2'] },
    ]);
  });

  it('retires first when there is no surge', () => {
    const p = plan({
      ...base,
      replicas: 2,
      strategy: { type: 'rolling', maxSurge: 0, maxUnavailable: 1 },
      observed: old(2),
    });
    expect(p.steps.slice(0, 3)).toEqual([
      { op: 'drain', instances: ['web-old-1'] },
      { op: 'stop', instances: ['web-old-1'] },
      { op: 'start', revision: 2, instances: [id(1)] },
    ]);
  });

  it('scales down extra instances of the same revision', () => {
    const observed = [1, 2, 3].map((n) => ({ id: `web-r2-a-${n}`, revision: 2, ready: true }));
    const p = plan({
      ...base,
      replicas: 1,
      strategy: { type: 'rolling', maxSurge: '25%', maxUnavailable: '25%' },
      observed,
    });
    expect(p.steps).toEqual([
      { op: 'drain', instances: ['web-r2-a-2', 'web-r2-a-3'] },
      { op: 'stop', instances: ['web-r2-a-2', 'web-r2-a-3'] },
    ]);
  });
});

const budget = fc.oneof(
  fc.integer({ min: 0, max: 4 }),
  fc.integer({ min: 0, max: 100 }).map((n) => `${n}%`),
);
const inputs = fc
  .record({
    replicas: fc.integer({ min: 0, max: 12 }),
    oldCount: fc.integer({ min: 0, max: 12 }),
    sameRevReady: fc.integer({ min: 0, max: 4 }),
    broken: fc.integer({ min: 0, max: 3 }),
    rolling: fc.boolean(),
    maxSurge: budget,
    maxUnavailable: budget,
  })
  .map((r): PlanInput => {
    const observed: ObservedInstance[] = [
      ...old(r.oldCount),
      ...Array.from({ length: r.sameRevReady }, (_, i) => ({
        id: `web-r2-prev-${i}`,
        revision: 2,
        ready: true,
      })),
      ...Array.from({ length: r.broken }, (_, i) => ({
        id: `web-broken-${i}`,
        revision: i % 2 ? 2 : 1,
        ready: false,
      })),
    ];
    return {
      ...base,
      replicas: r.replicas,
      strategy: r.rolling
        ? { type: 'rolling', maxSurge: r.maxSurge, maxUnavailable: r.maxUnavailable }
        : { type: 'replace' },
      observed,
    };
  });

describe('planner properties', () => {
  it('ends with exactly `replicas` serving instances of the new revision and nothing else', () => {
    fc.assert(
      fc.property(inputs, (input) => {
        const { final } = simulate(input.observed, plan(input).steps);
        const serving = [...final.entries()].filter(([, s]) => s === 'serving');
        expect(final.size).toBe(input.replicas);
        expect(serving.length).toBe(input.replicas);
        for (const [instance] of serving) {
          expect(input.observed.find((o) => o.id === instance)?.revision ?? 2).toBe(2);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('rolling never exceeds replicas + maxSurge nor drops below replicas - maxUnavailable ready', () => {
    fc.assert(
      fc.property(
        inputs.filter((i) => i.strategy.type === 'rolling'),
        (input) => {
          if (input.strategy.type !== 'rolling') return;
          const { surge, unavailable } = resolveBudget(
            input.replicas,
            input.strategy.maxSurge,
            input.strategy.maxUnavailable,
          );
          const { trace } = simulate(input.observed, plan(input).steps);
          const initial = trace[0]!;
          for (const point of trace) {
            expect(point.total).toBeLessThanOrEqual(Math.max(input.replicas + surge, initial.total));
            expect(point.serving).toBeGreaterThanOrEqual(
              Math.min(initial.serving, input.replicas - unavailable),
            );
          }
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('replace never lowers serving capacity below what was serving', () => {
    fc.assert(
      fc.property(
        inputs.filter((i) => i.strategy.type === 'replace'),
        (input) => {
          const { trace } = simulate(input.observed, plan(input).steps);
          const initial = trace[0]!;
          for (const point of trace)
            expect(point.serving).toBeGreaterThanOrEqual(Math.min(initial.serving, input.replicas));
        },
      ),
      { numRuns: 500 },
    );
  });

  it('is deterministic and never reuses an observed id', () => {
    fc.assert(
      fc.property(inputs, (input) => {
        const a = plan(input);
        expect(plan(input)).toEqual(a);
        const observedIds = new Set(input.observed.map((o) => o.id));
        for (const step of a.steps)
          if (step.op === 'start') for (const i of step.instances) expect(observedIds.has(i)).toBe(false);
      }),
    );
  });
});
