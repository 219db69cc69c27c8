import { DriverError } from '../core/errors.js';
import { ProxyRouter } from './proxy/client.js';
import type { Router } from './router.js';

export const ROUTER_KINDS = ['proxy'] as const;

/** The router driver of a kind. Tests construct `FakeRouter` directly. */
export function createRouter(kind: string, opts: { dataDir: string }): Router {
  switch (kind) {
    case 'proxy':
      return new ProxyRouter(opts);
    default:
      throw new DriverError('router', `unknown router kind "${kind}" (known: ${ROUTER_KINDS.join(', ')})`);
  }
}
