import { nodeSpec, processHarness } from '../helpers/process-harness.js';
import { runRuntimeContract } from './runtime.contract.js';

runRuntimeContract('process', async () => {
  const h = await processHarness();
  return { runtime: h.make(), spec: nodeSpec, cleanup: h.cleanup };
});
