import { describe } from 'vitest';
import { HaproxyRouter } from '../../src/router/haproxy/router.js';
import { requireHaproxy, startHaproxy } from '../helpers/haproxy.js';
import { tempDir } from './helpers.js';
import { runRouterContract } from './router.contract.js';

describe.skipIf(!requireHaproxy())('haproxy', () => {
  runRouterContract(
    'haproxy',
    async () => {
      // The recommended config: server-template slots restored by HAProxy's server-state file.
      const h = await startHaproxy({ slots: 8 });
      const state = await tempDir();
      const router = new HaproxyRouter({
        sockets: [h.socket],
        stateDir: state.dir,
        removeTimeoutMs: 3000,
        serverStateFile: h.serverStateFile,
      });
      return {
        router,
        cleanup: async () => {
          await h.stop();
          await state.remove();
        },
      };
    },
    {
      noPreview: 'preview listeners need the embedded proxy',
      noHold: 'HAProxy cannot hold requests over its runtime API',
    },
  );
});
