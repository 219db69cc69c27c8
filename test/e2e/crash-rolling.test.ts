import { expect, it } from 'vitest';
import { killAtEveryStep } from '../helpers/fault-injection.js';

it('rolling: SIGKILL of the control plane at every journaled step converges with nothing orphaned and no failed request', async () => {
  const { points } = await killAtEveryStep('{ type: rolling, maxSurge: 1, maxUnavailable: 0 }');
  expect(points).toBeGreaterThanOrEqual(20);
}, 900_000);
