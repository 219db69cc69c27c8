import { newInstanceIds } from './ids.js';
import { partition, retireSteps } from './split.js';
import type { PlanInput, Step } from './types.js';

/** Resolves `25%` or `2` against the replica count: surge rounds up, unavailable rounds down (as Kubernetes). */
export function resolveBudget(
  replicas: number,
  maxSurge: number | string,
  maxUnavailable: number | string,
): { surge: number; unavailable: number } {
  const of = (v: number | string, round: (n: number) => number) =>
    typeof v === 'number' ? v : round((Number(v.slice(0, -1)) / 100) * replicas);
  let surge = of(maxSurge, Math.ceil);
  const unavailable = Math.min(of(maxUnavailable, Math.floor), replicas);
  // Both zero would never make progress; one extra instance at a time is the safe reading.
  if (surge === 0 && unavailable === 0) surge = 1;
  return { surge, unavailable };
}

/**
 * Waves: start as many new instances as the surge allows, wait until healthy, add them to the router,
 * then drain and stop as many old ones as keeps at least `replicas - maxUnavailable` ready. When there is
 * no room to start (surge 0), old instances are retired first, within the unavailable budget.
 */
export function planRolling(input: PlanInput): Step[] {
  if (input.strategy.type !== 'rolling') throw new Error('planRolling needs a rolling strategy');
  const { surge, unavailable } = resolveBudget(
    input.replicas,
    input.strategy.maxSurge,
    input.strategy.maxUnavailable,
  );
  const replicas = input.replicas;
  const minReady = replicas - unavailable;
  const maxTotal = replicas + surge;
  const steps: Step[] = [];

  const parts = partition(input.observed, input.revision, input.reservedIds);
  steps.push(...retireSteps(parts.broken));
  let fresh = parts.fresh;
  const { old, taken } = parts;
  let next = 1;

  const retire = (ids: string[]) => steps.push(...retireSteps(ids));

  if (fresh.length > replicas) {
    retire(fresh.slice(replicas));
    fresh = fresh.slice(0, replicas);
  }

  while (old.length > 0 || fresh.length < replicas) {
    const before = steps.length;
    const needStart = replicas - fresh.length;
    const total = old.length + fresh.length;
    if (needStart > 0 && total >= maxTotal) {
      // No room: retire old ones first, as far as the unavailable budget allows.
      const k = Math.min(old.length, total - minReady, total - maxTotal + needStart);
      if (k <= 0) throw new Error('rolling plan cannot make progress');
      retire(old.splice(0, k));
    }
    const start = Math.min(replicas - fresh.length, maxTotal - (old.length + fresh.length));
    if (start > 0) {
      const made = newInstanceIds(input.service, input.revision, input.deployment, start, taken, next);
      next = made.next;
      steps.push(
        { op: 'start', revision: input.revision, instances: made.ids },
        { op: 'await-healthy', instances: made.ids },
        { op: 'route', instances: made.ids },
      );
      fresh = [...fresh, ...made.ids];
    }
    const ready = old.length + fresh.length;
    // Once the new set is complete every old instance goes; before that, keep `replicas` ready.
    const k =
      fresh.length >= replicas ? old.length : Math.min(old.length, ready - Math.max(minReady, replicas));
    if (k > 0) retire(old.splice(0, k));
    if (start <= 0 && k <= 0 && steps.length === before) throw new Error('rolling plan cannot make progress');
  }
  return steps;
}
