import { z } from 'zod';
import { duration } from '../../spec/primitives.js';
import type { ProbeSpec } from '../../spec/schema.js';
import { parseSettings } from '../external/settings.js';

/** Defaults of an `oci-lb` route (deploy-inst's: health every 5 s for up to 120 s, 10 s drain). */
export const OCI_LB_DEFAULTS = {
  policy: 'ROUND_ROBIN',
  healthTimeout: 120_000,
  pollInterval: 5_000,
  drainPeriod: 10_000,
} as const;

/** OCI's `HealthCheckerDetails`, in its own field names. */
export const healthCheckerSchema = z.looseObject({
  protocol: z.enum(['HTTP', 'TCP']),
  /** 0: the backend's own port. */
  port: z.number().int().min(0).max(65535).optional(),
  urlPath: z.string().startsWith('/').optional(),
  returnCode: z.number().int().optional(),
  retries: z.number().int().min(1).optional(),
  timeoutInMillis: z.number().int().min(1).optional(),
  intervalInMillis: z.number().int().min(1000).optional(),
  responseBodyRegex: z.string().optional(),
});
export type HealthChecker = z.output<typeof healthCheckerSchema>;

/**
 * `traffic.router` with `kind: oci-lb` (to be added to `src/spec/router.ts` when wired): which load
 * balancer, which backend sets, and the waits. The load balancer is found by OCID or by an exact-match
 * filter over the fields of OCI's `LoadBalancer` (see `src/cloud/filter.ts`: listed keys only, nested
 * maps such as freeformTags compared whole).
 */
export const ociLbRouteSchema = z
  .strictObject({
    kind: z.literal('oci-lb'),
    loadBalancerId: z.string().startsWith('ocid1.').optional(),
    filter: z.record(z.string(), z.unknown()).optional(),
    /** Where `filter` looks (ListLoadBalancers needs a compartment). */
    compartmentId: z.string().startsWith('ocid1.').optional(),
    /**
     * deploy-inst's backends: each instance gets one backend per entry, `privateIp:port` in that backend
     * set (port: the instance's own port when absent). Default: one, in a backend set named after the service.
     */
    backends: z
      .array(
        z.strictObject({
          port: z.number().int().min(1).max(65535).optional(),
          backendSet: z.string().min(1),
        }),
      )
      .min(1)
      .optional(),
    /** The health checker of backend sets Baton creates (default: derived from the service's probe). */
    healthChecker: healthCheckerSchema.optional(),
    policy: z.enum(['ROUND_ROBIN', 'LEAST_CONNECTIONS', 'IP_HASH']).default(OCI_LB_DEFAULTS.policy),
    healthTimeout: duration('traffic.router.healthTimeout').default(OCI_LB_DEFAULTS.healthTimeout),
    pollInterval: duration('traffic.router.pollInterval').default(OCI_LB_DEFAULTS.pollInterval),
    /** How long `waitDrained` waits after `drain`: OCI reports no per-backend connection counts. */
    drainPeriod: duration('traffic.router.drainPeriod').default(OCI_LB_DEFAULTS.drainPeriod),
  })
  .superRefine((s, ctx) => {
    if ((s.loadBalancerId === undefined) === (s.filter === undefined))
      ctx.addIssue({ code: 'custom', message: 'expected exactly one of loadBalancerId or filter' });
    if (s.filter !== undefined && s.compartmentId === undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['compartmentId'],
        message: 'a filter needs the compartmentId to list in',
      });
  });

export type OciLbRouteSettings = z.output<typeof ociLbRouteSchema>;
export type OciLbRouteInput = z.input<typeof ociLbRouteSchema>;

export const parseRouteSettings = (v: unknown): OciLbRouteSettings =>
  parseSettings(ociLbRouteSchema, 'oci-lb', v);

const clamp = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, Math.round(v)));

/**
 * The health checker of a backend set Baton creates, from the service's probe: an http probe checks the
 * same path and status, a tcp probe connects; an exec probe cannot run on a load balancer, so it becomes
 * a TCP check (the exec probe still gates traffic through Baton's own `await-healthy`). Interval and
 * timeout are clamped to what OCI accepts.
 */
export function healthCheckerFromProbe(probe: ProbeSpec, port = 0): HealthChecker {
  const timing = {
    port,
    intervalInMillis: clamp(probe.interval, 1000, 1_800_000),
    timeoutInMillis: clamp(probe.timeout, 1, 600_000),
    retries: probe.unhealthyThreshold,
  };
  if (probe.http)
    return { protocol: 'HTTP', urlPath: probe.http.path, returnCode: probe.http.status, ...timing };
  return { protocol: 'TCP', ...timing };
}
