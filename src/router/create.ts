import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { DriverError } from '../core/errors.js';
import type { RouterSpec } from '../spec/router.js';
import { HaproxyRouter } from './haproxy/router.js';
import { MultiRouter } from './multi.js';
import { ProxyRouter } from './proxy/client.js';
import type { Router } from './router.js';

export const ROUTER_KINDS = ['proxy', 'haproxy'] as const;

export interface RouterOptions {
  dataDir: string;
}

/**
 * Which driver instance carries a router spec: one embedded proxy; one HAProxy driver per set of stats
 * sockets (services behind the same HAProxy fleet share its reload detection). Per-service settings
 * (backend, server options) travel with each route, so they are not part of the key.
 */
export function routerKey(spec: RouterSpec): string {
  if (spec.kind === 'proxy') return 'proxy';
  const sockets = [...spec.sockets].sort().join('\n');
  return `haproxy:${createHash('sha256').update(sockets).digest('hex').slice(0, 12)}`;
}

/** The router driver for a spec. Tests construct `FakeRouter` directly. */
export function createRouter(kindOrSpec: RouterSpec | string, opts: RouterOptions): Router {
  const spec: { kind: string } = typeof kindOrSpec === 'string' ? { kind: kindOrSpec } : kindOrSpec;
  switch (spec.kind) {
    case 'proxy':
      return new ProxyRouter({ dataDir: opts.dataDir });
    case 'haproxy': {
      const h = spec as Extract<RouterSpec, { kind: 'haproxy' }>;
      if (!Array.isArray(h.sockets) || h.sockets.length === 0)
        throw new DriverError('router', 'router haproxy needs sockets: the stats sockets (level admin)');
      return new HaproxyRouter({
        sockets: h.sockets,
        // Baton's record of the servers it added, one file per HAProxy fleet.
        stateDir: join(opts.dataDir, routerKey(h).replace(':', '-')),
        serverOptions: h.serverOptions,
        removeTimeoutMs: h.removeTimeout,
      });
    }
    default:
      throw new DriverError(
        'router',
        `unknown router kind "${spec.kind}" (known: ${ROUTER_KINDS.join(', ')})`,
      );
  }
}

/** Every router a service may name, behind one Router; the embedded proxy is the default. */
export function createMultiRouter(opts: RouterOptions & { logger?: Logger }): MultiRouter {
  return new MultiRouter({
    make: (spec) => createRouter(spec, opts),
    key: routerKey,
    ...(opts.logger ? { logger: opts.logger } : {}),
  });
}
