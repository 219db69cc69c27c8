import { newInstanceIds } from './ids.js';
import { partition } from './split.js';
import type { PlanInput, Step } from './types.js';

/**
 * The full new set starts beside the old one and is reachable on the preview listener; after checks and
 * promotion (manual or automatic) one atomic switch moves all traffic; the old set stays up, idle, for
 * the rollback window, then drains and stops.
 */
export function planBlueGreen(input: PlanInput): Step[] {
  if (input.strategy.type !== 'blue-green') throw new Error('planBlueGreen needs a blue-green strategy');
  const strategy = input.strategy;
  const { broken, fresh, old, taken } = partition(input.observed, input.revision, input.reservedIds);
  const steps: Step[] = [];
  if (broken.length) steps.push({ op: 'drain', instances: broken }, { op: 'stop', instances: broken });

  const keep = fresh.slice(0, input.replicas);
  const retired = [...old, ...fresh.slice(input.replicas)];
  const { ids } = newInstanceIds(
    input.service,
    input.revision,
    input.deployment,
    input.replicas - keep.length,
    taken,
  );
  if (ids.length === 0 && retired.length === 0) return steps;
  // With nothing serving there is nobody to protect: no preview, no promotion gate.
  if (ids.length && old.length === 0) {
    steps.push(
      { op: 'start', revision: input.revision, instances: ids },
      { op: 'await-healthy', instances: ids },
    );
  } else if (ids.length) {
    steps.push(
      { op: 'start', revision: input.revision, instances: ids },
      { op: 'await-healthy', instances: ids },
      { op: 'preview', revision: input.revision, instances: [...keep, ...ids] },
    );
    for (const check of strategy.checks) steps.push({ op: 'check', check });
    steps.push(
      strategy.autoPromote === undefined
        ? { op: 'await-promotion' }
        : { op: 'await-promotion', autoMs: strategy.autoPromote },
    );
  }
  steps.push({ op: 'switch', instances: [...keep, ...ids] });
  if (retired.length) {
    if (strategy.scaleDownDelay > 0)
      steps.push({ op: 'linger', ms: strategy.scaleDownDelay, instances: retired });
    steps.push({ op: 'drain', instances: retired }, { op: 'stop', instances: retired });
  }
  return steps;
}
