import type { Logger } from 'pino';
import { type EnsureProxyOptions, ensureProxy } from '../router/proxy/launch.js';

/**
 * Restarts the embedded proxy if it dies. It comes back from its snapshot with every route and backend,
 * and the supervisor re-asserts health right after. Checks are a cheap request on the admin socket.
 */
export function watchProxy(
  dataDir: string,
  logger: Logger,
  everyMs = 1000,
  opts: EnsureProxyOptions = {},
): { stop: () => Promise<void> } {
  let timer: NodeJS.Timeout | undefined;
  let current: Promise<void> = Promise.resolve();
  const check = () => {
    current = ensureProxy(dataDir, opts)
      .then(({ pid, started }) => {
        if (started)
          logger.error({ pid }, 'the embedded proxy was not running; restarted it from its snapshot');
      })
      .catch((err: unknown) => logger.error({ err }, 'could not restart the embedded proxy'))
      .finally(() => {
        if (timer) timer = setTimeout(check, everyMs);
      });
  };
  timer = setTimeout(check, everyMs);
  return {
    async stop() {
      const t = timer;
      timer = undefined;
      clearTimeout(t);
      await current;
    },
  };
}
