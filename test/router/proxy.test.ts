import { describe } from 'vitest';
import { ProxyRouter } from '../../src/router/proxy/client.js';
import { ensureProxy, stopProxy } from '../../src/router/proxy/launch.js';
import { requireBuilt } from '../helpers/services.js';
import { startInProcessProxy, tempDir } from './helpers.js';
import { runRouterContract } from './router.contract.js';

runRouterContract('proxy', async () => {
  const p = await startInProcessProxy();
  return { router: p.router, cleanup: p.cleanup };
});

// The same contract against the proxy as it runs in production: its own process, with two workers that
// get every change from the primary (needs `npm run build`).
const ENTRY = new URL('../../dist/router/proxy/main.js', import.meta.url).pathname;
describe.runIf(requireBuilt(ENTRY))('proxy process with 2 workers', () => {
  runRouterContract('proxy (2 workers)', async () => {
    const tmp = await tempDir();
    await ensureProxy(tmp.dir, { entry: ENTRY, workers: 2 });
    return {
      router: new ProxyRouter({ dataDir: tmp.dir }),
      cleanup: async () => {
        await stopProxy(tmp.dir);
        await tmp.remove();
      },
    };
  });
});
