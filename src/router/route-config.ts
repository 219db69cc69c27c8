import type { RouterSpec } from '../spec/router.js';
import type { RouteConfig, RouteLimits } from './router.js';

/** The `traffic` fields of a spec that make a route (limits optional: the router's defaults apply). */
export interface TrafficSpec {
  listen: string;
  drainTimeout: number;
  keepAliveTimeout?: number | undefined;
  preview?: string | undefined;
  router: RouterSpec;
  timeouts?: { requestHead?: number; connect?: number; response?: number } | undefined;
  maxBodySize?: number | undefined;
  hosts?: string[] | undefined;
  pathPrefix?: string | undefined;
  tls?: 'auto' | { cert: string; key: string } | undefined;
  redirectHttp?: boolean | undefined;
  upstream?: 'http1' | 'h2c' | undefined;
}

/** The route of a service from its spec's `traffic`. */
export function routeConfigOf(service: string, t: TrafficSpec): RouteConfig {
  return {
    service,
    listen: t.listen,
    drainTimeoutMs: t.drainTimeout,
    keepAliveTimeoutMs: t.keepAliveTimeout,
    preview: t.preview,
    router: t.router,
    limits: routeLimitsOf(t),
    hosts: t.hosts,
    pathPrefix: t.pathPrefix,
    tls: t.tls === undefined || t.tls === 'auto' ? t.tls : [{ cert: t.tls.cert, key: t.tls.key }],
    redirectHttp: t.redirectHttp,
    ...(t.upstream === undefined ? {} : { upstream: t.upstream }),
  };
}

/** A route's limits from a spec's `traffic` (undefined when it sets none). */
export function routeLimitsOf(
  t: Pick<TrafficSpec, 'timeouts' | 'maxBodySize'>,
): Partial<RouteLimits> | undefined {
  const out: Partial<RouteLimits> = {};
  if (t.timeouts?.requestHead !== undefined) out.headTimeoutMs = t.timeouts.requestHead;
  if (t.timeouts?.connect !== undefined) out.connectTimeoutMs = t.timeouts.connect;
  if (t.timeouts?.response !== undefined) out.responseTimeoutMs = t.timeouts.response;
  if (t.maxBodySize !== undefined) out.maxBodyBytes = t.maxBodySize;
  return Object.keys(out).length === 0 ? undefined : out;
}
