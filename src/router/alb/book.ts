import { BackendState } from '../router.js';
import type { RouteRecord } from './record.js';

/**
 * What to keep on disk while a change from `r` to `next` runs: `next`, plus every backend of `r` that
 * `next` drops, as draining — a process that dies in the middle may have registered the new targets and
 * not yet deregistered the old ones, and the next one must know both to finish or undo the change.
 */
export function intent(r: RouteRecord, next: RouteRecord): RouteRecord {
  const out = structuredClone(next);
  for (const b of r.backends)
    if (!out.backends.some((x) => x.id === b.id)) out.backends.push({ ...b, state: BackendState.Draining });
  out.applied = {};
  return out;
}
