import { z } from 'zod';
import { healthCheckerFromProbe } from '../router/oci-lb/settings.js';
import { ecsServiceSchema } from '../runtime/ecs/spec.js';
import { createDetailsSchema } from '../runtime/oci/spec.js';
import { envMap } from './primitives.js';

/**
 * The fields of a `runtime: oci` service (the common ones are added by `schema.ts`): the app's port in
 * the instance and OCI's own CreateContainerInstanceDetails (checked and passed on by
 * `src/runtime/oci/spec.ts`). Credentials are not here: they are the control plane's (docs/baton-yaml.md).
 */
export const ociFields = {
  runtime: z.literal('oci'),
  /** The port the app listens on inside the instance: an instance's address is `privateIp:port`. */
  port: z
    .number({ error: 'expected the port the app listens on inside the instance, e.g. 8080' })
    .int()
    .min(1)
    .max(65535),
  /** Added to every container's environmentVariables (a container's own entries win). */
  env: envMap.default({}),
  containerInstance: createDetailsSchema,
};

/**
 * The fields of a `runtime: ecs` service (`src/runtime/ecs/spec.ts`: port, env, secrets as references,
 * the `ecs` block in ECS's field names); its cross-field rules run in `checkEcs`. `stopTimeout` is the
 * common one (a duration).
 */
const { stopTimeout: _ecsStop, ...ecsShape } = ecsServiceSchema.shape;
export const ecsFields = ecsShape;

/** The ECS runtime's own cross-field rules (launch type vs capacity providers, a name in env and secrets). */
export function checkEcs(s: { runtime: string }, ctx: z.core.$RefinementCtx): void {
  if (s.runtime !== 'ecs') return;
  const r = ecsServiceSchema.safeParse(s);
  for (const i of r.success ? [] : r.error.issues)
    ctx.addIssue({ code: 'custom', path: i.path as PropertyKey[], message: i.message });
}

/** Routers that run a health check of their own, which can gate traffic instead of Baton's probe. */
const CHECKING_ROUTERS = new Set(['oci-lb', 'alb']);
/** Runtimes whose instances have private addresses the control plane may not reach. */
const CLOUD_RUNTIMES = new Set(['oci', 'ecs']);

interface Checked {
  runtime: string;
  probe: { by?: 'baton' | 'router' | undefined; exec?: unknown; http?: unknown };
  traffic: { router: { kind: string } };
}

/**
 * Who runs the probe when the spec does not say: the load balancer, for a cloud runtime behind a load
 * balancer that checks health itself (the control plane may not reach an instance's private IP);
 * Baton otherwise.
 */
export function probeBy(s: Checked): 'baton' | 'router' {
  if (s.probe.by) return s.probe.by;
  return CLOUD_RUNTIMES.has(s.runtime) && CHECKING_ROUTERS.has(s.traffic.router.kind) ? 'router' : 'baton';
}

/** Cross-field rules of the probe and the router, with the field to point at. */
export function checkProbeGate(s: Checked, ctx: z.core.$RefinementCtx): void {
  if (probeBy(s) !== 'router') return;
  if (!CHECKING_ROUTERS.has(s.traffic.router.kind))
    ctx.addIssue({
      code: 'custom',
      path: ['probe', 'by'],
      message: `probe.by: router needs a load balancer that checks health itself (router oci-lb or alb); router ${s.traffic.router.kind} does not`,
    });
  else if (s.probe.exec !== undefined)
    ctx.addIssue({
      code: 'custom',
      path: ['probe', 'exec'],
      message:
        'an exec probe runs on the control plane, but here the load balancer checks health: use http or tcp (or probe.by: baton)',
    });
}

/** Routers that give Baton no per-revision request counters (their metrics live in the cloud's monitoring). */
const UNCOUNTED_ROUTERS = new Set(['oci-lb', 'alb']);

/**
 * Canary analysis judges the router's per-revision counters; behind a router without them it could never
 * decide and every canary would wait for a human at its deadline, so the spec is refused instead.
 */
export function checkAnalysisRouter(
  s: { strategy: { type: string; analysis?: unknown }; traffic: { router: { kind: string } } },
  ctx: z.core.$RefinementCtx,
): void {
  if (s.strategy.type !== 'canary' || s.strategy.analysis === undefined) return;
  const kind = s.traffic.router.kind;
  if (UNCOUNTED_ROUTERS.has(kind))
    ctx.addIssue({
      code: 'custom',
      path: ['strategy', 'analysis'],
      message: `canary analysis needs request counters from the router, and router ${kind} gives Baton none (its metrics are in the cloud's monitoring service): remove strategy.analysis and gate the steps with pauses and checks, or use router proxy or haproxy`,
    });
}

/**
 * Defaults that depend on other fields: `probe.by` for a cloud runtime behind a checking load balancer,
 * and the health checker of backend sets an `oci-lb` router creates, derived from the probe (http: same
 * path and status; tcp: a connect), so the load balancer checks what Baton would have.
 */
export function withCloudDefaults<T extends Checked>(s: T): T {
  const by = probeBy(s);
  const probe = by === 'router' && s.probe.by === undefined ? { ...s.probe, by } : s.probe;
  const router = s.traffic.router as { kind: string; healthChecker?: unknown };
  if (router.kind !== 'oci-lb' || router.healthChecker !== undefined) return { ...s, probe };
  const healthChecker = healthCheckerFromProbe(probe as Parameters<typeof healthCheckerFromProbe>[0]);
  return { ...s, probe, traffic: { ...s.traffic, router: { ...router, healthChecker } } };
}
