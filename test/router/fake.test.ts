import { FakeRouter } from '../../src/router/fake/fake-router.js';
import { runRouterContract } from './router.contract.js';

runRouterContract('fake', async () => ({ router: new FakeRouter(), cleanup: async () => {} }));
