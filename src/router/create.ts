import { join } from 'node:path';
import { DriverError } from '../core/errors.js';
import { HaproxyRouter } from './haproxy/router.js';
import { ProxyRouter } from './proxy/client.js';
import type { Router } from './router.js';

export const ROUTER_KINDS = ['proxy', 'haproxy'] as const;

export interface RouterOptions {
  dataDir: string;
  /** For `haproxy`: the stats sockets (`level admin`) and the service → backend names (default: same). */
  haproxy?: { sockets: string[]; backends?: Record<string, string> | undefined } | undefined;
}

/** The router driver of a kind. Tests construct `FakeRouter` directly. */
export function createRouter(kind: string, opts: RouterOptions): Router {
  switch (kind) {
    case 'proxy':
      return new ProxyRouter({ dataDir: opts.dataDir });
    case 'haproxy':
      if (!opts.haproxy || opts.haproxy.sockets.length === 0)
        throw new DriverError(
          'router',
          'router haproxy needs haproxy.sockets: the stats sockets (level admin)',
        );
      return new HaproxyRouter({
        sockets: opts.haproxy.sockets,
        backends: opts.haproxy.backends,
        stateDir: join(opts.dataDir, 'haproxy'),
      });
    default:
      throw new DriverError('router', `unknown router kind "${kind}" (known: ${ROUTER_KINDS.join(', ')})`);
  }
}
