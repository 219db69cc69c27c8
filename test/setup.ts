import { afterAll } from 'vitest';

// End-to-end files start daemons, proxies and instances: whatever a file leaves behind (a timed-out
// test, a failed setup) is stopped by PID here, so no process outlives its test file. The harness
// registers its cleanup when it is loaded; unit test files never load it.
afterAll(async () => {
  const cleanup = (globalThis as { batonCleanupLeftovers?: () => Promise<void> }).batonCleanupLeftovers;
  await cleanup?.();
});
