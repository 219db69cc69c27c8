import { ConflictError } from '../core/errors.js';
import { checkToken } from '../store/check.js';
import type { Store } from '../store/store.js';

/**
 * The desired state of one service in cluster mode: which revision every node runs, and the one before
 * (where a failed rollout goes back to). One key per service, `cluster.desired.<service>`, in the same
 * bucket as the revisions (Repo on NatsStore); agents watch the prefix.
 */
export interface Desired {
  service: string;
  revision: number;
  /** The revision this one replaced: a revert goes back to it. Null for a service's first revision. */
  previous: number | null;
  /** Updated instances of `revision` that failed health so far, cluster-wide. */
  failures: number;
  /** Who wrote it (`cli:alice`, `agent:n2 (revert)`) and when. */
  by: string;
  at: string;
  /** Set when this state is the result of a revert: why. */
  reason?: string | undefined;
  /**
   * When every live node was seen running `revision` (healthy, registered): set once, by compare-and-set,
   * by the agent that saw it first; that agent alone records the revision statuses (converged.ts).
   */
  converged?: string | undefined;
}

export const DESIRED_PREFIX = 'cluster.desired.';
export const desiredKey = (service: string): string => {
  checkToken(service, 'service name');
  return `${DESIRED_PREFIX}${service}`;
};

/** What an agent does after an updated instance of `failed` failed health. Pure. */
export type FailureDecision =
  /** The desired state no longer names that revision (reverted or superseded): nothing to record. */
  | { action: 'ignore' }
  /** Count it; the threshold is not reached. */
  | { action: 'count'; next: Desired }
  /** The threshold is reached: the desired revision goes back to `previous` on every node. */
  | { action: 'revert'; next: Desired; failed: number }
  /** The threshold is reached but there is nothing to go back to: count it, and say so. */
  | { action: 'stuck'; next: Desired };

export function decideOnFailure(
  cur: Desired,
  failed: number,
  maxFailures: number,
  by: string,
  reason: string,
  now: string,
): FailureDecision {
  if (cur.revision !== failed) return { action: 'ignore' };
  const failures = cur.failures + 1;
  if (failures < maxFailures) return { action: 'count', next: { ...cur, failures } };
  if (cur.previous === null) return { action: 'stuck', next: { ...cur, failures } };
  return {
    action: 'revert',
    failed,
    next: {
      service: cur.service,
      revision: cur.previous,
      // Going forward again is a new deploy: there is nothing left to revert to automatically.
      previous: null,
      failures: 0,
      by,
      at: now,
      reason: `revision ${failed} reverted: ${reason}`,
    },
  };
}

/** Reads the desired state of a service (with its store revision, for compare-and-set). */
export async function readDesired(
  store: Store,
  service: string,
): Promise<{ value: Desired; revision: number } | undefined> {
  return store.get<Desired>(desiredKey(service));
}

/**
 * Makes `revision` the desired one (the current one becomes `previous`). Compare-and-set: a writer that
 * lost re-reads and tries again. Returns undefined when it was desired already.
 */
export async function setDesired(
  store: Store,
  service: string,
  revision: number,
  by: string,
  now = new Date().toISOString(),
): Promise<Desired | undefined> {
  for (let attempt = 1; ; attempt++) {
    const cur = await readDesired(store, service);
    if (cur?.value.revision === revision) return undefined;
    const next: Desired = {
      service,
      revision,
      previous: cur?.value.revision ?? null,
      failures: 0,
      by,
      at: now,
    };
    try {
      if (cur) await store.update(desiredKey(service), next, cur.revision);
      else await store.create(desiredKey(service), next);
      return next;
    } catch (e) {
      if (!(e instanceof ConflictError) || attempt >= 10) throw e;
    }
  }
}

/**
 * Records one failure of revision `failed` and reverts when the threshold is reached, by compare-and-set
 * on the desired key: two agents seeing failures at once never both revert (the second finds the
 * desired revision changed and ignores its failure).
 */
export async function recordFailure(
  store: Store,
  service: string,
  failed: number,
  maxFailures: number,
  by: string,
  reason: string,
): Promise<FailureDecision> {
  for (let attempt = 1; ; attempt++) {
    const cur = await readDesired(store, service);
    if (!cur) return { action: 'ignore' };
    const d = decideOnFailure(cur.value, failed, maxFailures, by, reason, new Date().toISOString());
    if (d.action === 'ignore') return d;
    try {
      await store.update(desiredKey(service), d.next, cur.revision);
      return d;
    } catch (e) {
      if (!(e instanceof ConflictError) || attempt >= 10) throw e;
    }
  }
}
