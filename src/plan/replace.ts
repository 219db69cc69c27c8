import { newInstanceIds } from './ids.js';
import type { PlanInput, Step } from './types.js';

/**
 * deploy-inst's flow: start the whole new set, wait until it is healthy, switch traffic to it in one
 * atomic step, drain the old set, stop it. Capacity never drops; peak is old + new.
 */
export function planReplace(input: PlanInput): Step[] {
  const steps: Step[] = [];
  const broken = input.observed.filter((i) => !i.ready).map((i) => i.id);
  const readyNew = input.observed.filter((i) => i.ready && i.revision === input.revision).map((i) => i.id);
  const old = input.observed.filter((i) => i.ready && i.revision !== input.revision).map((i) => i.id);

  if (broken.length) steps.push({ op: 'drain', instances: broken }, { op: 'stop', instances: broken });

  const keep = readyNew.slice(0, input.replicas);
  const extra = readyNew.slice(input.replicas);
  const taken = new Set([...input.observed.map((i) => i.id), ...(input.reservedIds ?? [])]);
  const { ids } = newInstanceIds(
    input.service,
    input.revision,
    input.deployment,
    input.replicas - keep.length,
    taken,
  );
  if (ids.length) {
    steps.push({ op: 'start', revision: input.revision, instances: ids });
    steps.push({ op: 'await-healthy', instances: ids });
  }
  const retired = [...old, ...extra];
  if (ids.length || retired.length) {
    steps.push({ op: 'switch', instances: [...keep, ...ids] });
  }
  if (retired.length) {
    steps.push({ op: 'drain', instances: retired }, { op: 'stop', instances: retired });
  }
  return steps;
}
