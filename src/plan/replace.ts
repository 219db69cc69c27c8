import { retireSteps, wholeSet } from './split.js';
import type { PlanInput, Step } from './types.js';

/**
 * deploy-inst's flow: start the whole new set, wait until it is healthy, switch traffic to it in one
 * atomic step, drain the old set, stop it. Capacity never drops; peak is old + new.
 */
export function planReplace(input: PlanInput): Step[] {
  const { broken, keep, ids, retired } = wholeSet(input);
  const steps: Step[] = retireSteps(broken);
  if (ids.length) {
    steps.push(
      { op: 'start', revision: input.revision, instances: ids },
      { op: 'await-healthy', instances: ids },
    );
  }
  if (ids.length || retired.length) steps.push({ op: 'switch', instances: [...keep, ...ids] });
  return [...steps, ...retireSteps(retired)];
}
