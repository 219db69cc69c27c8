import type { Instance } from '../core/types.js';
import { adminCall } from '../router/proxy/client.js';
import { proxyPaths } from '../router/proxy/paths.js';
import type { RouteStatus } from '../router/router.js';
import { ControlMetrics } from './control-metrics.js';
import { registerProxyMetrics } from './proxy-metrics.js';
import { Scrape } from './scrape.js';

/** A scrape waits this long for the proxy's summed status (it asks each worker once). */
const PROXY_STATUS_TIMEOUT_MS = 5000;

/** The embedded proxy's routes, summed over its workers, from its admin socket. */
export const proxyRoutes = (dataDir: string) => (): Promise<RouteStatus[]> =>
  adminCall<RouteStatus[]>(proxyPaths(dataDir).socket, 'GET', '/routes', undefined, PROXY_STATUS_TIMEOUT_MS);

/**
 * Everything `GET /metrics` of a control plane (or an agent) shows: its own deploy figures and instances,
 * and the embedded proxy of its data dir.
 */
export function nodeMetrics(
  dataDir: string,
  instances: () => Promise<Instance[]>,
): { scrape: Scrape; observer: ControlMetrics } {
  const scrape = new Scrape();
  const observer = new ControlMetrics(scrape, instances);
  registerProxyMetrics(scrape, proxyRoutes(dataDir));
  return { scrape, observer };
}
