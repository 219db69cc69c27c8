import { z } from 'zod';
import { albRouteSchema } from '../router/alb/settings.js';
import { ociLbRouteSchema } from '../router/oci-lb/settings.js';
import { duration } from './primitives.js';

/** Defaults of `traffic.router` (kind haproxy). */
export const HAPROXY_DEFAULTS = {
  /** Dynamic servers ignore `default-server`, so health-check timing must be given per server. */
  serverOptions: 'check inter 1s fall 2 rise 1',
  removeTimeout: 10_000,
  /** How often Baton checks that every HAProxy still has its servers (a reload drops them). */
  reconcileInterval: 2_000,
} as const;

const proxyRouter = z.strictObject({ kind: z.literal('proxy') });

/**
 * HAProxy over its runtime API: Baton adds, drains and deletes dynamic servers in a backend the user
 * declared in haproxy.cfg (src/router/haproxy/README.md). `traffic.listen` is then the address of the
 * user's HAProxy frontend: Baton does not bind it, but checks and hooks use it as the service's URL.
 */
const haproxyRouter = z.strictObject({
  kind: z.literal('haproxy'),
  /** Stats sockets with `level admin`, one per HAProxy carrying the traffic: paths or host:port. */
  sockets: z
    .array(z.string().min(1, 'expected a socket path or host:port'))
    .min(1, 'expected at least one stats socket (level admin)'),
  /** The backend in haproxy.cfg whose servers Baton manages (default: the service name). */
  backend: z
    .string()
    .regex(/^[A-Za-z0-9_.:-]+$/, 'expected an HAProxy backend name (letters, digits, _ . : -)')
    .optional(),
  /** Keywords appended to `add server`, one line. */
  serverOptions: z
    .string()
    .refine((s) => !/[\n;\\]/.test(s), 'expected one line of server keywords, without ; or \\')
    .default(HAPROXY_DEFAULTS.serverOptions),
  /** Longest wait for HAProxy to let go of a removed server's connections. */
  removeTimeout: duration('traffic.router.removeTimeout').default(HAPROXY_DEFAULTS.removeTimeout),
  reconcileInterval: duration('traffic.router.reconcileInterval').default(HAPROXY_DEFAULTS.reconcileInterval),
  /**
   * HAProxy's `server-state-file` (global section; `load-server-state-from-file global` in defaults):
   * Baton writes it on every change, so a reload or restart starts with the servers of the backend's
   * `server-template baton-slot` slots, their weights and states.
   */
  serverStateFile: z
    .string()
    .startsWith('/', "expected the absolute path of HAProxy's server-state-file")
    .optional(),
});

/** Which load balancer carries a service's traffic. `proxy` (the embedded proxy) is the default. */
export const routerSchema = z.preprocess(
  // `router: proxy` is short for `{kind: proxy}`; another string is left for the union to reject.
  (v) => (v === 'proxy' || v === 'haproxy' ? { kind: v } : v),
  // oci-lb: backends in an OCI load balancer's backend sets (src/router/oci-lb/README.md).
  // alb: targets in two target groups weighed by a listener's forward action (src/router/alb/README.md).
  z.discriminatedUnion('kind', [proxyRouter, haproxyRouter, ociLbRouteSchema, albRouteSchema]),
);

export type RouterSpec = z.output<typeof routerSchema>;
export type HaproxyRouterSpec = Extract<RouterSpec, { kind: 'haproxy' }>;
export type OciLbRouterSpec = Extract<RouterSpec, { kind: 'oci-lb' }>;
export type AlbRouterSpec = Extract<RouterSpec, { kind: 'alb' }>;
