import type { ObservedInstance, Step } from './types.js';

type SimState = 'broken' | 'starting' | 'healthy' | 'standby' | 'serving' | 'draining';

export interface SimPoint {
  step: number;
  /** Instances that exist (any state). */
  total: number;
  /** Instances receiving new requests. */
  serving: number;
}

/** Which states an op may find its instances in, and the state it leaves them in. */
const TRANSITIONS: Partial<Record<Step['op'], { from: SimState[]; to: SimState }>> = {
  'await-healthy': { from: ['starting'], to: 'healthy' },
  route: { from: ['healthy'], to: 'serving' },
  preview: { from: ['healthy', 'serving', 'standby'], to: 'standby' },
  switch: { from: ['healthy', 'standby', 'serving'], to: 'serving' },
  drain: { from: ['serving', 'broken', 'draining'], to: 'draining' },
  linger: { from: ['draining'], to: 'draining' },
};

/**
 * Replays a plan on counts alone, to check a planner's promises (capacity, surge, order) in tests.
 * Throws if a step refers to an instance in the wrong state.
 */
export function simulate(
  observed: ObservedInstance[],
  steps: Step[],
): { trace: SimPoint[]; final: Map<string, SimState> } {
  const state = new Map<string, SimState>(observed.map((i) => [i.id, i.ready ? 'serving' : 'broken']));
  const count = (s?: SimState) => [...state.values()].filter((v) => s === undefined || v === s).length;
  const trace: SimPoint[] = [{ step: 0, total: count(), serving: count('serving') }];
  steps.forEach((step, idx) => {
    if (step.op === 'start') {
      for (const id of step.instances) {
        if (state.has(id)) throw new Error(`start of existing ${id}`);
        state.set(id, 'starting');
      }
    } else if (step.op === 'stop') {
      for (const id of step.instances) {
        if (state.get(id) !== 'draining')
          throw new Error(`stop of ${id} in state ${state.get(id) ?? 'absent'}`);
        state.delete(id);
      }
    } else if ('instances' in step) {
      const t = TRANSITIONS[step.op]!;
      for (const id of step.instances) {
        const s = state.get(id);
        if (!s || !t.from.includes(s)) throw new Error(`${step.op} of ${id} in state ${s ?? 'absent'}`);
        state.set(id, t.to);
      }
      if (step.op === 'switch') {
        const active = new Set(step.instances);
        for (const [id, s] of state)
          if (!active.has(id) && (s === 'serving' || s === 'standby')) state.set(id, 'draining');
      }
    }
    trace.push({ step: idx + 1, total: count(), serving: count('serving') });
  });
  return { trace, final: state };
}
