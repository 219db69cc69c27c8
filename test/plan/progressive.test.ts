import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { plan, withHooks } from '../../src/plan/plan.js';
import { resolveBudget } from '../../src/plan/rolling.js';
import { simulate } from '../../src/plan/simulate.js';
import type { ObservedInstance, PlanInput, PlanStrategy, Step } from '../../src/plan/types.js';
import { strategySchema } from '../../src/spec/strategy.js';

const old = (n: number): ObservedInstance[] =>
  Array.from({ length: n }, (_, i) => ({ id: `web-old-${i + 1}`, revision: 1, ready: true }));
const id = (n: number) => `web-r2-dep12345-${n}`;
const base = { service: 'web', deployment: 'dep12345xyz', revision: 2, stableRevision: 1 } as const;
const strategy = (s: unknown) => strategySchema.parse(s) as PlanStrategy;

describe('blue-green', () => {
  it('starts the full new set, previews it, waits for promotion, switches once, keeps the old set, then retires it', () => {
    const p = plan({
      ...base,
      replicas: 2,
      observed: old(2),
      strategy: strategy({ type: 'blue-green', checks: [{ command: 'true' }] }),
    });
    expect(p.steps).toEqual([
      { op: 'start', revision: 2, instances: [id(1), id(2)] },
      { op: 'await-healthy', instances: [id(1), id(2)] },
      { op: 'preview', revision: 2, instances: [id(1), id(2)] },
      { op: 'check', check: { command: 'true', args: [], timeout: 60_000 } },
      { op: 'await-promotion' },
      { op: 'switch', instances: [id(1), id(2)] },
      { op: 'linger', ms: 30_000, instances: ['web-old-1', 'web-old-2'] },
      { op: 'drain', instances: ['web-old-1', 'web-old-2'] },
      { op: 'stop', instances: ['web-old-1', 'web-old-2'] },
    ]);
  });

  it('promotes by itself after autoPromote; no linger with scaleDownDelay 0', () => {
    const p = plan({
      ...base,
      replicas: 1,
      observed: old(1),
      strategy: strategy({ type: 'blue-green', autoPromote: '5s', scaleDownDelay: 0 }),
    });
    expect(p.steps.map((s) => s.op)).toEqual([
      'start',
      'await-healthy',
      'preview',
      'await-promotion',
      'switch',
      'drain',
      'stop',
    ]);
    expect(p.steps[3]).toEqual({ op: 'await-promotion', autoMs: 5000 });
  });

  it('a first deploy has no preview and no promotion gate', () => {
    const p = plan({
      ...base,
      stableRevision: null,
      replicas: 2,
      observed: [],
      strategy: strategy({ type: 'blue-green' }),
    });
    expect(p.steps.map((s) => s.op)).toEqual(['start', 'await-healthy', 'switch']);
  });
});

describe('canary', () => {
  it('setWeight starts one canary, splits traffic before routing it, pauses, judges, then rolls the rest one at a time', () => {
    const p = plan({
      ...base,
      replicas: 2,
      observed: old(2),
      strategy: strategy({
        type: 'canary',
        steps: [{ setWeight: 20 }, { pause: '10s' }, { setWeight: 50 }, { pause: {} }],
        analysis: {},
      }),
    });
    expect(p.steps).toEqual([
      { op: 'start', revision: 2, instances: [id(1)] },
      { op: 'await-healthy', instances: [id(1)] },
      { op: 'split', stable: 1, canary: 2, percent: 20 },
      { op: 'route', instances: [id(1)] },
      { op: 'pause', ms: 10_000 },
      { op: 'split', stable: 1, canary: 2, percent: 50 },
      { op: 'pause' },
      { op: 'judge' },
      { op: 'unsplit' },
      { op: 'drain', instances: ['web-old-1'] },
      { op: 'stop', instances: ['web-old-1'] },
      { op: 'start', revision: 2, instances: [id(2)] },
      { op: 'await-healthy', instances: [id(2)] },
      { op: 'route', instances: [id(2)] },
      { op: 'drain', instances: ['web-old-2'] },
      { op: 'stop', instances: ['web-old-2'] },
    ]);
  });

  it("expresses marathon-lb's flow: new +1 / old -1, a hybrid pause, then one instance at a time", () => {
    const p = plan({
      ...base,
      replicas: 3,
      observed: old(3),
      strategy: strategy({ type: 'canary', steps: [{ setInstances: 1 }, { pause: {} }] }),
    });
    expect(p.steps.slice(0, 6)).toEqual([
      { op: 'start', revision: 2, instances: [id(1)] },
      { op: 'await-healthy', instances: [id(1)] },
      { op: 'route', instances: [id(1)] },
      { op: 'drain', instances: ['web-old-3'] },
      { op: 'stop', instances: ['web-old-3'] },
      { op: 'pause' },
    ]);
    const rest = p.steps.slice(6);
    expect(rest.filter((s) => s.op === 'start').map((s) => (s as { instances: string[] }).instances)).toEqual(
      [[id(2)], [id(3)]],
    );
  });

  it('a first deploy (nothing stable) is a plain rolling start', () => {
    const p = plan({
      ...base,
      stableRevision: null,
      replicas: 2,
      observed: [],
      strategy: strategy({ type: 'canary', steps: [{ setWeight: 10 }] }),
    });
    expect(p.steps.map((s) => s.op)).not.toContain('split');
  });

  it('refuses a shrinking canary at validation', () => {
    const r = strategySchema.safeParse({ type: 'canary', steps: [{ setInstances: 2 }, { setInstances: 1 }] });
    expect(r.success).toBe(false);
    expect(r.error?.issues[0]?.path).toEqual(['steps', 1, 'setInstances']);
  });
});

describe('hooks', () => {
  it('places pre-deploy first and pre/post-switch around the first traffic move', () => {
    const steps: Step[] = [
      { op: 'start', revision: 2, instances: ['a'] },
      { op: 'await-healthy', instances: ['a'] },
      { op: 'route', instances: ['a'] },
      { op: 'route', instances: ['b'] },
    ];
    expect(
      withHooks(steps, ['pre-deploy', 'pre-switch', 'post-switch', 'post-deploy']).map((s) =>
        s.op === 'hook' ? s.hook : s.op,
      ),
    ).toEqual(['pre-deploy', 'start', 'await-healthy', 'pre-switch', 'route', 'post-switch', 'route']);
    expect(withHooks([], ['pre-deploy'])).toEqual([]);
  });
});

const canaryStep = fc.oneof(
  fc.integer({ min: 0, max: 100 }).map((setWeight) => ({ setWeight })),
  fc.integer({ min: 0, max: 6 }).map((setInstances) => ({ setInstances })),
  fc.constant({ pause: '1s' }),
  fc.constant({ pause: {} }),
);
/** The schema refuses a shrinking canary; keep generated setInstances in order. */
function nonDecreasing<T extends object>(steps: T[]): T[] {
  let max = 0;
  return steps.map((s) => {
    if (!('setInstances' in s)) return s;
    max = Math.max(max, s.setInstances as number);
    return { setInstances: max } as T;
  });
}

const progressive = fc
  .record({
    replicas: fc.integer({ min: 0, max: 8 }),
    oldCount: fc.integer({ min: 0, max: 8 }),
    broken: fc.integer({ min: 0, max: 2 }),
    kind: fc.constantFrom('blue-green', 'canary'),
    steps: fc.array(canaryStep, { minLength: 1, maxLength: 6 }),
    analysis: fc.boolean(),
  })
  .map(
    (r): PlanInput => ({
      ...base,
      stableRevision: r.oldCount ? 1 : null,
      replicas: r.replicas,
      observed: [
        ...old(r.oldCount),
        ...Array.from({ length: r.broken }, (_, i) => ({ id: `web-broken-${i}`, revision: 1, ready: false })),
      ],
      strategy:
        r.kind === 'blue-green'
          ? strategy({ type: 'blue-green' })
          : strategy({
              type: 'canary',
              steps: nonDecreasing(r.steps),
              ...(r.analysis ? { analysis: {} } : {}),
            }),
    }),
  );

describe('progressive planner properties', () => {
  it('end with exactly `replicas` serving instances of the new revision, and nothing else', () => {
    fc.assert(
      fc.property(progressive, (input) => {
        const { final } = simulate(input.observed, plan(input).steps);
        expect(final.size).toBe(input.replicas);
        expect([...final.values()].every((s) => s === 'serving')).toBe(true);
        for (const instance of final.keys()) expect(instance.startsWith('web-r2-')).toBe(true);
      }),
      { numRuns: 800 },
    );
  });

  it('never lower serving capacity below min(serving before, replicas) minus the rolling budget', () => {
    fc.assert(
      fc.property(progressive, (input) => {
        const { trace } = simulate(input.observed, plan(input).steps);
        const unavailable =
          input.strategy.type === 'canary'
            ? resolveBudget(input.replicas, input.strategy.maxSurge, input.strategy.maxUnavailable)
                .unavailable
            : 0;
        const floor = Math.min(trace[0]!.serving, input.replicas) - unavailable;
        for (const point of trace) expect(point.serving).toBeGreaterThanOrEqual(floor);
      }),
      { numRuns: 800 },
    );
  });

  it('blue-green moves production traffic to the new set in exactly one step', () => {
    fc.assert(
      fc.property(
        progressive.filter(
          (i) => i.strategy.type === 'blue-green' && i.replicas > 0 && i.observed.some((o) => o.ready),
        ),
        (input) => {
          const steps = plan(input).steps;
          expect(steps.filter((s) => s.op === 'switch' || s.op === 'route' || s.op === 'split')).toHaveLength(
            1,
          );
        },
      ),
    );
  });
});
