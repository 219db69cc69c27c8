import type { ObservedInstance, Step } from './types.js';

type SimState = 'broken' | 'starting' | 'healthy' | 'serving' | 'draining';

export interface SimPoint {
  step: number;
  /** Instances that exist (any state). */
  total: number;
  /** Instances receiving new requests. */
  serving: number;
}

/**
 * Replays a plan on counts alone, to check a planner's promises (capacity, surge) and to show
 * them in `baton plan`. Throws if a step refers to an instance in the wrong state.
 */
export function simulate(
  observed: ObservedInstance[],
  steps: Step[],
): { trace: SimPoint[]; final: Map<string, SimState> } {
  const state = new Map<string, SimState>(observed.map((i) => [i.id, i.ready ? 'serving' : 'broken']));
  const count = (s?: SimState) => [...state.values()].filter((v) => s === undefined || v === s).length;
  const trace: SimPoint[] = [{ step: 0, total: count(), serving: count('serving') }];
  const expect = (id: string, allowed: SimState[], op: string) => {
    const s = state.get(id);
    if (!s || !allowed.includes(s)) throw new Error(`${op} of ${id} in state ${s ?? 'absent'}`);
  };
  steps.forEach((step, idx) => {
    for (const id of step.instances) {
      switch (step.op) {
        case 'start':
          if (state.has(id)) throw new Error(`start of existing ${id}`);
          state.set(id, 'starting');
          break;
        case 'await-healthy':
          expect(id, ['starting'], step.op);
          state.set(id, 'healthy');
          break;
        case 'route':
          expect(id, ['healthy'], step.op);
          state.set(id, 'serving');
          break;
        case 'switch':
          expect(id, ['healthy', 'serving'], step.op);
          break;
        case 'drain':
          expect(id, ['serving', 'broken', 'draining'], step.op);
          state.set(id, 'draining');
          break;
        case 'stop':
          expect(id, ['draining'], step.op);
          state.delete(id);
          break;
      }
    }
    if (step.op === 'switch') {
      const active = new Set(step.instances);
      for (const [id, s] of state) {
        if (active.has(id)) state.set(id, 'serving');
        else if (s === 'serving') state.set(id, 'draining');
      }
    }
    trace.push({ step: idx + 1, total: count(), serving: count('serving') });
  });
  return { trace, final: state };
}
