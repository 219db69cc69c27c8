import type { Server } from 'node:http';
import type { Logger } from 'pino';
import { openListener } from './listener.js';
import type { DataPlane } from './plane.js';
import type { ServiceTable } from './service.js';

/** How long a restored route keeps trying an address that is still taken. */
const RESTORE_LISTEN_RETRY_MS = 3000;

/**
 * Opens a listener of a route restored from the snapshot. The workers of a proxy killed a moment ago may
 * still hold the address while they exit, so a taken address is tried again for a while; a route that
 * cannot listen is logged and kept without a listener (the next ensureRoute tries again), unless `strict`.
 */
export async function openRestored(
  table: ServiceTable,
  plane: DataPlane,
  listen: string,
  preview: boolean,
  log: Logger,
  strict = false,
): Promise<Server | undefined> {
  const deadline = Date.now() + RESTORE_LISTEN_RETRY_MS;
  for (;;) {
    try {
      return await openListener(table, plane, listen, preview);
    } catch (e) {
      const code = ((e as Error).cause as NodeJS.ErrnoException | undefined)?.code;
      if (code === 'EADDRINUSE' && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 100));
        continue;
      }
      // A proxy taking over must serve every route the one it replaces serves, or not take over.
      if (strict) throw e;
      log.error(
        { service: table.service, listen, err: (e as Error).message },
        'cannot listen for restored route',
      );
      return undefined;
    }
  }
}
