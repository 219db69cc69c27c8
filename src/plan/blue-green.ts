import { retireSteps, wholeSet } from './split.js';
import type { PlanInput, Step } from './types.js';

/**
 * The full new set starts beside the old one and is reachable on the preview listener; after checks and
 * promotion (manual or automatic) one atomic switch moves all traffic; the old set stays up, idle, for
 * the rollback window, then drains and stops.
 */
export function planBlueGreen(input: PlanInput): Step[] {
  if (input.strategy.type !== 'blue-green') throw new Error('planBlueGreen needs a blue-green strategy');
  const strategy = input.strategy;
  const { broken, old, keep, ids, retired } = wholeSet(input);
  const steps: Step[] = retireSteps(broken);
  if (ids.length === 0 && retired.length === 0) return steps;
  if (ids.length) {
    steps.push(
      { op: 'start', revision: input.revision, instances: ids },
      { op: 'await-healthy', instances: ids },
    );
  }
  // With nothing serving there is nobody to protect: no preview, no promotion gate.
  if (ids.length && old.length > 0) {
    steps.push({ op: 'preview', revision: input.revision, instances: [...keep, ...ids] });
    for (const check of strategy.checks) steps.push({ op: 'check', check });
    const autoMs = strategy.autoPromote;
    steps.push(autoMs === undefined ? { op: 'await-promotion' } : { op: 'await-promotion', autoMs });
  }
  steps.push({ op: 'switch', instances: [...keep, ...ids] });
  if (retired.length) {
    if (strategy.scaleDownDelay > 0)
      steps.push({ op: 'linger', ms: strategy.scaleDownDelay, instances: retired });
    steps.push(...retireSteps(retired));
  }
  return steps;
}
