import { describe, expect, it } from 'vitest';
import { type Desired, decideOnFailure } from '../../src/agent/desired.js';

const d = (over: Partial<Desired> = {}): Desired => ({
  service: 'web',
  revision: 5,
  previous: 4,
  failures: 0,
  by: 'cli:alice',
  at: '2026-01-01T00:00:00.000Z',
  ...over,
});
const NOW = '2026-01-01T00:01:00.000Z';

describe('revert decision', () => {
  it('reverts to the previous revision at the first failure with maxFailures 1', () => {
    expect(decideOnFailure(d(), 5, 1, 'agent:n2', 'probe 500', NOW)).toEqual({
      action: 'revert',
      failed: 5,
      next: {
        service: 'web',
        revision: 4,
        previous: null,
        failures: 0,
        by: 'agent:n2',
        at: NOW,
        reason: 'revision 5 reverted: probe 500',
      },
    });
  });

  it('counts failures below the threshold', () => {
    expect(decideOnFailure(d(), 5, 3, 'agent:n1', 'x', NOW)).toEqual({
      action: 'count',
      next: d({ failures: 1 }),
    });
    expect(decideOnFailure(d({ failures: 1 }), 5, 3, 'agent:n1', 'x', NOW)).toEqual({
      action: 'count',
      next: d({ failures: 2 }),
    });
    expect(decideOnFailure(d({ failures: 2 }), 5, 3, 'agent:n1', 'x', NOW).action).toBe('revert');
  });

  it('ignores a failure of a revision that is no longer desired (another agent reverted first)', () => {
    expect(decideOnFailure(d({ revision: 4, previous: null }), 5, 1, 'agent:n3', 'x', NOW)).toEqual({
      action: 'ignore',
    });
    expect(decideOnFailure(d({ revision: 6, previous: 5 }), 5, 1, 'agent:n3', 'x', NOW)).toEqual({
      action: 'ignore',
    });
  });

  it('cannot revert a first revision: counts it and says it is stuck', () => {
    expect(decideOnFailure(d({ previous: null }), 5, 1, 'agent:n1', 'x', NOW)).toEqual({
      action: 'stuck',
      next: d({ previous: null, failures: 1 }),
    });
  });

  it('a reverted state cannot be reverted again by a late failure of the old revision', () => {
    const first = decideOnFailure(d(), 5, 1, 'agent:n1', 'x', NOW);
    if (first.action !== 'revert') throw new Error('expected a revert');
    // The revision it went back to failing later is a new problem, with nothing to go back to.
    expect(decideOnFailure(first.next, 4, 1, 'agent:n2', 'y', NOW).action).toBe('stuck');
  });
});
