import { expect, it } from 'vitest';
import { killAtEveryStep } from '../helpers/fault-injection.js';

it('rolling: SIGKILL of the control plane at every journaled step (one phase each; both with BATON_CRASH_POINTS=all) converges with nothing orphaned and no failed request', async () => {
  const { points, steps } = await killAtEveryStep('{ type: rolling, maxSurge: 1, maxUnavailable: 0 }');
  expect(steps).toBeGreaterThanOrEqual(10);
  // Every step killed at least once (at both phases with BATON_CRASH_POINTS=all).
  expect(points).toBeGreaterThanOrEqual(steps);
}, 900_000);
