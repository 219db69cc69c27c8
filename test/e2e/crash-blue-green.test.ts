import { expect, it } from 'vitest';
import { killAtEveryStep } from '../helpers/fault-injection.js';

it('blue-green: SIGKILL of the control plane at every journaled step converges with nothing orphaned and no failed request', async () => {
  const { points } = await killAtEveryStep('{ type: blue-green, autoPromote: 0s, scaleDownDelay: 1s }');
  expect(points).toBeGreaterThanOrEqual(16);
}, 900_000);
