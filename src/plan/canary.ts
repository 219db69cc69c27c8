import { newInstanceIds } from './ids.js';
import { planRolling } from './rolling.js';
import { partition, retireSteps } from './split.js';
import type { PlanInput, Step } from './types.js';

/**
 * Canary steps in order: `setWeight` splits traffic (starting one canary instance if there is none),
 * `setInstances` grows or shrinks the canary while the stable set shrinks to keep `replicas` in total
 * (marathon-lb's "new +1, old −1" hybrid), `pause` and `check` wait or verify. Then the analysis judges,
 * the split ends and the rest is replaced as a rolling update (one at a time by default).
 */
export function planCanary(input: PlanInput): Step[] {
  if (input.strategy.type !== 'canary') throw new Error('planCanary needs a canary strategy');
  const strategy = input.strategy;
  const { broken, fresh, old, taken } = partition(input.observed, input.revision, input.reservedIds);
  const steps: Step[] = [];
  steps.push(...retireSteps(broken));
  const stable = input.stableRevision;
  // With nothing serving (first deploy) or nothing old left, a canary has nothing to compare with.
  if (stable == null || old.length === 0) {
    const rolling = {
      type: 'rolling' as const,
      maxSurge: strategy.maxSurge,
      maxUnavailable: strategy.maxUnavailable,
    };
    return [
      ...steps,
      ...planRolling({
        ...input,
        observed: input.observed.filter((i) => i.ready),
        reservedIds: [...taken],
        strategy: rolling,
      }),
    ];
  }
  let canary = [...fresh];
  const stableSet = [...old];
  let next = 1;
  let split = false;
  const start = (n: number): string[] => {
    const made = newInstanceIds(input.service, input.revision, input.deployment, n, taken, next);
    next = made.next;
    for (const id of made.ids) taken.add(id);
    steps.push(
      { op: 'start', revision: input.revision, instances: made.ids },
      { op: 'await-healthy', instances: made.ids },
    );
    return made.ids;
  };
  const retire = (ids: string[]) => steps.push(...retireSteps(ids));

  for (const s of strategy.steps) {
    if ('setWeight' in s) {
      const added = canary.length === 0 ? start(1) : [];
      steps.push({ op: 'split', stable, canary: input.revision, percent: s.setWeight });
      split = true;
      if (added.length) steps.push({ op: 'route', instances: added });
      canary = [...canary, ...added];
    } else if ('setInstances' in s) {
      const want = Math.min(s.setInstances, input.replicas);
      if (want > canary.length) {
        const added = start(want - canary.length);
        steps.push({ op: 'route', instances: added });
        canary = [...canary, ...added];
      } else if (want < canary.length) {
        retire(canary.slice(want));
        canary = canary.slice(0, want);
      }
      const stableWant = Math.max(input.replicas - canary.length, 0);
      if (stableSet.length > stableWant) retire(stableSet.splice(stableWant));
    } else if ('pause' in s) {
      steps.push(typeof s.pause === 'number' ? { op: 'pause', ms: s.pause } : { op: 'pause' });
    } else {
      steps.push({ op: 'check', check: s.check });
    }
  }
  if (strategy.analysis) steps.push({ op: 'judge' });
  if (split) steps.push({ op: 'unsplit' });
  const observed = [
    ...stableSet.map((id) => ({ id, revision: stable, ready: true })),
    ...canary.map((id) => ({ id, revision: input.revision, ready: true })),
  ];
  const rest = planRolling({
    ...input,
    observed,
    reservedIds: [...taken],
    strategy: { type: 'rolling', maxSurge: strategy.maxSurge, maxUnavailable: strategy.maxUnavailable },
  });
  return [...steps, ...rest];
}
