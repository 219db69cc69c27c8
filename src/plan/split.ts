import { newInstanceIds } from './ids.js';
import type { ObservedInstance, PlanInput, Step } from './types.js';

/** The observed instances in the buckets every planner starts from. */
export function partition(observed: ObservedInstance[], revision: number, reserved: string[] = []) {
  return {
    /** Not ready: replaced, never counted as capacity. */
    broken: observed.filter((i) => !i.ready).map((i) => i.id),
    /** Ready and already of the desired revision. */
    fresh: observed.filter((i) => i.ready && i.revision === revision).map((i) => i.id),
    /** Ready, of another revision. */
    old: observed.filter((i) => i.ready && i.revision !== revision).map((i) => i.id),
    taken: new Set([...observed.map((i) => i.id), ...reserved]),
  };
}

/** For strategies that replace the whole set at once: what stays, what starts, what retires. */
export function wholeSet(input: PlanInput) {
  const { broken, fresh, old, taken } = partition(input.observed, input.revision, input.reservedIds);
  const keep = fresh.slice(0, input.replicas);
  const { ids } = newInstanceIds(
    input.service,
    input.revision,
    input.deployment,
    input.replicas - keep.length,
    taken,
  );
  return { broken, old, keep, ids, retired: [...old, ...fresh.slice(input.replicas)] };
}

/** Drain, then stop: how every planner retires instances. */
export function retireSteps(ids: string[]): Step[] {
  return ids.length
    ? [
        { op: 'drain', instances: ids },
        { op: 'stop', instances: ids },
      ]
    : [];
}
