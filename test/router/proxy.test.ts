import { afterAll, describe } from 'vitest';
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
// get every change from the primary (needs `npm run build`). One proxy process serves every case (starting
// three processes per case cost ~6 s each on a loaded 2-core machine); each case starts from no routes.
const ENTRY = new URL('../../dist/router/proxy/main.js', import.meta.url).pathname;
describe.runIf(requireBuilt(ENTRY))('proxy process with 2 workers', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>> | undefined;
  let started: Promise<void> | undefined;
  afterAll(async () => {
    if (!tmp) return;
    // Also when the start timed out: a proxy that came up late is found by its pid file.
    await stopProxy(tmp.dir);
    await tmp.remove();
  });
  runRouterContract('proxy (2 workers)', async () => {
    started ??= (async () => {
      tmp = await tempDir();
      await ensureProxy(tmp.dir, { entry: ENTRY, workers: 2 });
    })();
    await started;
    const dir = tmp!.dir;
    const router = new ProxyRouter({ dataDir: dir });
    // A case that failed half-way may have left routes behind: every case starts from none.
    for (const route of await router.list()) await router.removeRoute(route.service);
    return {
      router,
      cleanup: async () => {
        const admin = new ProxyRouter({ dataDir: dir });
        for (const route of await admin.list()) await admin.removeRoute(route.service);
        await admin.close();
      },
    };
  });
});
