import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { AwsClients } from '../cloud/aws/clients.js';
import type { OciClients } from '../cloud/oci/clients.js';
import type { CallLog } from '../cloud/planned.js';
import { DriverError } from '../core/errors.js';
import type { HaproxyRouterSpec, RouterSpec } from '../spec/router.js';
import type { RouteRecord as AlbRouteRecord } from './alb/record.js';
import { AlbRouter } from './alb/router.js';
import { HaproxyRouter } from './haproxy/router.js';
import { MultiRouter } from './multi.js';
import { OciLbRouter } from './oci-lb/router.js';
import { ProxyRouter } from './proxy/client.js';
import type { Router } from './router.js';

export const ROUTER_KINDS = ['proxy', 'haproxy', 'oci-lb', 'alb'] as const;

export interface RouterOptions {
  dataDir: string;
  /** Embedded proxy: its HTTP listener (ACME HTTP-01, redirects), opened when a TLS service needs it. */
  httpListen?: string | undefined;
  /** oci-lb: the SDK clients, made on first need (shared with runtime oci). */
  ociClients?: (() => OciClients) | undefined;
  /** alb: the SDK clients, made on first need (shared with runtime ecs). */
  awsClients?: (() => AwsClients) | undefined;
  /** Dry run (`baton plan`): drivers that support it read for real and record their writes here. */
  dryRun?: CallLog | undefined;
  /** alb dry run: the live router's routes (its targets live in memory and in target group tags). */
  albRoutes?: AlbRouteRecord[] | undefined;
}

/** Where the oci-lb driver keeps its record of routes and backends (OCI backends carry no tags). */
export const ociLbStateFile = (dataDir: string) => join(dataDir, 'oci-lb', 'routes.json');

/**
 * Which driver instance carries a router spec: one embedded proxy; one HAProxy driver per set of stats
 * sockets (services behind the same HAProxy fleet share its reload detection). Per-service settings
 * (backend, server options) travel with each route, so they are not part of the key.
 */
export function routerKey(spec: RouterSpec): string {
  // One oci-lb (alb) driver for every service: each route carries its own load balancer and settings.
  if (spec.kind === 'proxy' || spec.kind === 'oci-lb' || spec.kind === 'alb') return spec.kind;
  const sockets = [...(spec as HaproxyRouterSpec).sockets].sort().join('\n');
  return `haproxy:${createHash('sha256').update(sockets).digest('hex').slice(0, 12)}`;
}

/** The router driver for a spec. Tests construct `FakeRouter` directly. */
export function createRouter(kindOrSpec: RouterSpec | string, opts: RouterOptions): Router {
  const spec: { kind: string } = typeof kindOrSpec === 'string' ? { kind: kindOrSpec } : kindOrSpec;
  switch (spec.kind) {
    case 'proxy':
      return new ProxyRouter({ dataDir: opts.dataDir, httpListen: opts.httpListen });
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
    case 'oci-lb':
      if (!opts.ociClients) throw new DriverError('router', 'router oci-lb needs OCI clients (credentials)');
      // Settings come with each route (RouteConfig.router), the health checker from the probe (spec).
      return new OciLbRouter({
        clients: opts.ociClients(),
        stateFile: ociLbStateFile(opts.dataDir),
        dryRun: opts.dryRun,
      });
    case 'alb':
      if (!opts.awsClients) throw new DriverError('router', 'router alb needs AWS clients (credentials)');
      // Settings come with each route; after a restart the router reads its record back (targets it
      // registered) and its target groups' tags.
      return new AlbRouter({
        clients: opts.awsClients(),
        dryRun: opts.dryRun,
        routes: opts.albRoutes,
        stateFile: join(opts.dataDir, 'alb', 'routes.json'),
      });
    default:
      throw new DriverError(
        'router',
        `unknown router kind "${spec.kind}" (known: ${ROUTER_KINDS.join(', ')})`,
      );
  }
}

/** Every router a service may name, behind one Router; the embedded proxy is the default. */
export function createMultiRouter(
  opts: RouterOptions & { logger?: Logger | undefined; made?: Map<string, Router> | undefined },
): MultiRouter {
  return new MultiRouter({
    make: (spec) => {
      const router = createRouter(spec, opts);
      // Who needs a live driver besides the engine (a dry run seeded with the alb router's routes).
      opts.made?.set(routerKey(spec), router);
      return router;
    },
    key: routerKey,
    ...(opts.logger ? { logger: opts.logger } : {}),
  });
}
