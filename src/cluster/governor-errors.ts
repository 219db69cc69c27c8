import { BatonError } from '../core/errors.js';
import type { GovernorLease } from './governor.js';

/**
 * No slot of a governor came free in time. It is the cluster-wide cousin of a held lock, so it carries
 * the same code (LOCK_HELD), and says who holds the slots and since when.
 */
export class GovernorBusyError extends BatonError {
  constructor(governor: string, timeoutMs: number, holders: GovernorLease[]) {
    const who = holders.map((l) => `${l.holder} (since ${l.since.toISOString()})`).join(', ');
    super(
      'LOCK_HELD',
      `governor ${governor} had no free slot within ${timeoutMs} ms${who ? `; held by ${who}` : ''}`,
      {
        details: {
          governor,
          timeoutMs,
          holders: holders.map((l) => ({ ...l, since: l.since.toISOString() })),
        },
      },
    );
  }
}
