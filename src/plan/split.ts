import type { ObservedInstance } from './types.js';

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
