import { expect, it } from 'vitest';
import { killAtEveryStep } from '../helpers/fault-injection.js';

it('canary: SIGKILL of the control plane at every journaled step converges with nothing orphaned and no failed request', async () => {
  const { points } = await killAtEveryStep('{ type: canary, steps: [{ setWeight: 50 }, { pause: 1s }] }');
  expect(points).toBeGreaterThanOrEqual(24);
}, 900_000);
