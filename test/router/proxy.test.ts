import { startInProcessProxy } from './helpers.js';
import { runRouterContract } from './router.contract.js';

runRouterContract('proxy', async () => {
  const p = await startInProcessProxy();
  return { router: p.router, cleanup: p.cleanup };
});
