import { z } from 'zod';
import {
  checkAnalysisRouter,
  checkEcs,
  checkProbeGate,
  ecsFields,
  ociFields,
  withCloudDefaults,
} from './cloud.js';
import { clusterSchema } from './cluster.js';
import { DEFAULTS } from './defaults.js';
import { dockerFields } from './docker.js';
import { checkTargets, environmentsSchema } from './environment.js';
import { hooksSchema } from './hooks.js';
import { inheritNotify, notifySchema } from './notify.js';
import { pipelineSchema } from './pipeline.js';
import { byteSize, duration, envMap, hostPort } from './primitives.js';
import { routerSchema } from './router.js';
import { strategySchema } from './strategy.js';
import {
  hostSchema,
  pathPrefixSchema,
  sharedListenerIssues,
  tlsSchema,
  trafficRoutingIssues,
} from './tls.js';

/**
 * The `baton.yaml` schema. It doubles as the reference: every field carries its description and default,
 * and `docs/baton-yaml.md` mirrors it. Defaults live in `defaults.ts` once; CLI flags reuse them.
 */
export { DEFAULTS } from './defaults.js';

export const probeSchema = z
  .strictObject({
    http: z
      .strictObject({
        path: z.string().startsWith('/', 'expected a path starting with /').default('/'),
        status: z.number().int().min(100).max(599).default(200),
        /** Sent as the Host header. */
        host: z.string().optional(),
      })
      .optional(),
    tcp: z.strictObject({}).optional(),
    exec: z
      .strictObject({
        command: z.string().min(1),
        args: z.array(z.string()).default([]),
      })
      .optional(),
    interval: duration('probe.interval').default(DEFAULTS.probe.interval),
    timeout: duration('probe.timeout').default(DEFAULTS.probe.timeout),
    healthyThreshold: z.number().int().min(1).default(DEFAULTS.probe.healthyThreshold),
    unhealthyThreshold: z.number().int().min(1).default(DEFAULTS.probe.unhealthyThreshold),
    startTimeout: duration('probe.startTimeout').default(DEFAULTS.probe.startTimeout),
    /**
     * Who checks a new instance before it takes traffic: `baton` (the control plane probes it) or
     * `router` (the load balancer's own health check, derived from this probe; default for runtime oci
     * behind router oci-lb, whose private IPs the control plane may not reach). See `cloud.ts`.
     */
    by: z.enum(['baton', 'router']).optional(),
  })
  .superRefine((p, ctx) => {
    const kinds = [p.http, p.tcp, p.exec].filter((k) => k !== undefined).length;
    if (kinds !== 1) {
      ctx.addIssue({ code: 'custom', message: `expected exactly one of http, tcp or exec, found ${kinds}` });
    }
  });

const trafficSchema = z
  .strictObject({
    /**
     * Where the service takes traffic: the embedded proxy listens here; with `router: haproxy` it is the
     * address of the user's HAProxy frontend (not bound by Baton; checks and hooks use it).
     */
    listen: hostPort,
    drainTimeout: duration('traffic.drainTimeout').default(DEFAULTS.drainTimeout),
    /**
     * Embedded proxy: how long an idle client keep-alive connection stays open, announced to clients
     * (`Keep-Alive: timeout=N`) so they retire the socket before the proxy closes it. Whole seconds, >= 1s.
     * Not set: the proxy's default (`DEFAULTS.keepAliveTimeout`), kept out of the spec so the revisions
     * of specs written before this field keep their hash.
     */
    keepAliveTimeout: duration('traffic.keepAliveTimeout')
      .refine((ms) => ms >= 1000 && ms % 1000 === 0, 'expected whole seconds, at least 1s (e.g. 120s)')
      .optional(),
    /** A second listener that serves the new revision before it takes traffic (blue-green preview). */
    preview: hostPort.optional(),
    /** The load balancer: `proxy` (embedded, default) or `{kind: haproxy, sockets: [...]}`. */
    router: routerSchema.default({ kind: 'proxy' }),
    /**
     * The embedded proxy's timeouts (defaults in docs/proxy.md): `requestHead` (a client's request head,
     * then 408), `connect` (to an instance, then the next or 503), `response` (waiting for the response
     * head and between reads of a body, then 504). Only inactivity is timed.
     */
    timeouts: z
      .strictObject({
        requestHead: duration('traffic.timeouts.requestHead').optional(),
        connect: duration('traffic.timeouts.connect').optional(),
        response: duration('traffic.timeouts.response').optional(),
      })
      .optional(),
    /** Largest request body the embedded proxy passes on (then 413); no limit when absent. */
    maxBodySize: byteSize('traffic.maxBodySize').optional(),
    /** Embedded proxy, shared listeners: the names this service answers (absent: the listener's default). */
    hosts: z.array(hostSchema).min(1, 'expected at least one host name').optional(),
    /** Embedded proxy: only requests under this path prefix (segment-wise). */
    pathPrefix: pathPrefixSchema.optional(),
    /** Embedded proxy: TLS on `listen`, `{cert, key}` PEM files or `auto` (ACME). */
    tls: tlsSchema.optional(),
    /** With `tls`: plain HTTP for the hosts on the proxy's HTTP listener gets a 308 to https (default true). */
    redirectHttp: z.boolean().optional(),
    /**
     * Embedded proxy: how it speaks to the instances, `http1` (HTTP/1.1, the default) or `h2c` (HTTP/2 in
     * clear text: gRPC, trailers, streaming both ways). Clients may speak HTTP/2 on TLS listeners either way.
     */
    upstream: z
      .enum(['http1', 'h2c'], {
        error: () => 'expected http1 (HTTP/1.1, the default) or h2c (HTTP/2 in clear text, e.g. gRPC)',
      })
      .optional(),
  })
  .superRefine((t, ctx) => {
    trafficRoutingIssues(t, (path, message) => ctx.addIssue({ code: 'custom', path, message }));
    // An ALB serves the preview on a second listener of its own (previewListenerArn).
    const albPreview = t.router.kind === 'alb' && t.router.previewListenerArn !== undefined;
    if (t.router.kind !== 'proxy' && !albPreview && t.preview !== undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['preview'],
        message: `a preview listener needs the embedded proxy (router: proxy); with ${t.router.kind}, declare a second frontend in its own configuration`,
      });
    if (t.router.kind !== 'proxy' && t.upstream !== undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['upstream'],
        message: `upstream is the embedded proxy's (router: proxy); with ${t.router.kind}, set the backend protocol in its own configuration`,
      });
    if (t.router.kind !== 'proxy' && t.keepAliveTimeout !== undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['keepAliveTimeout'],
        message: `keepAliveTimeout is the embedded proxy's (router: proxy); with ${t.router.kind}, set the client keep-alive timeout in its own configuration (HAProxy: timeout http-keep-alive)`,
      });
  });

/** Fields every service has, whatever runs its instances. */
const commonFields = {
  replicas: z.number().int().min(0, 'replicas must be 0 or more').default(DEFAULTS.replicas),
  probe: probeSchema.prefault({ tcp: {} }),
  traffic: trafficSchema,
  strategy: strategySchema.prefault({ type: 'rolling' }),
  stopTimeout: duration('stopTimeout').default(DEFAULTS.stopTimeout),
  hooks: hooksSchema.optional(),
  /** Cluster mode (`baton agent`): governors, restart files, revert threshold, registration. */
  cluster: clusterSchema.optional(),
  /** Deploy notifications (webhooks); absent: the file's top-level `notify`. See `notify.ts`. */
  notify: notifySchema.optional(),
};

const processRuntime = z.strictObject({
  runtime: z.literal('process'),
  /** Program to run; a string is split on spaces, an array is taken as argv. */
  command: z.union([z.string().min(1, 'command must not be empty'), z.array(z.string()).min(1)]),
  args: z.array(z.string()).default([]),
  cwd: z.string().optional(),
  env: envMap.default({}),
  ...commonFields,
});

/** `runtime: docker`: instances are containers (fields in `docker.ts`). */
const dockerRuntime = z.strictObject({ ...dockerFields, ...commonFields });

/** `runtime: oci`: instances are OCI Container Instances (fields in `cloud.ts`). */
const ociRuntime = z.strictObject({ ...ociFields, ...commonFields });
/** `runtime: ecs`: each instance an ECS service of one task (fields in `src/runtime/ecs/spec.ts`). */
const ecsRuntime = z.strictObject({ ...ecsFields, ...commonFields });

export const serviceSchema = z
  .discriminatedUnion('runtime', [processRuntime, dockerRuntime, ociRuntime, ecsRuntime])
  .superRefine(checkProbeGate)
  .superRefine(checkEcs)
  .superRefine(checkAnalysisRouter)
  .transform(withCloudDefaults);

/** A service as written in the file: a missing `runtime` means the embedded default. */
export const serviceEntrySchema = z.preprocess(
  (v) => (v && typeof v === 'object' && !('runtime' in v) ? { runtime: 'process', ...v } : v),
  serviceSchema,
);

export const fileSchema = z
  .strictObject({
    version: z.literal(1).default(1),
    services: z.record(
      z.string().regex(/^[a-z][a-z0-9-]{0,62}$/, 'service names are lower-case letters, digits and dashes'),
      serviceEntrySchema,
    ),
    /** Named deploy targets (`--env NAME`): their control plane or cluster, checks and overrides. */
    environments: environmentsSchema.optional(),
    /** What `baton release --ref REF` does for each git ref. */
    pipeline: pipelineSchema.optional(),
    /** Deploy notifications for every service that has no `notify` of its own. */
    notify: notifySchema.optional(),
  })
  .superRefine(checkTargets)
  .superRefine((f, ctx) =>
    sharedListenerIssues(f.services, (name, path, message) =>
      ctx.addIssue({ code: 'custom', path: ['services', name, 'traffic', ...path], message }),
    ),
  )
  .superRefine((f, ctx) => {
    const seen = new Map<string, string>();
    const listens = new Map<string, string>();
    for (const [name, svc] of Object.entries(f.services)) {
      for (const field of ['listen', 'preview'] as const) {
        const addr = svc.traffic[field];
        // Services of the embedded proxy share a listener by host and path (checked above).
        if (field === 'listen' && addr !== undefined && svc.traffic.router.kind === 'proxy') {
          const first = listens.get(addr);
          listens.set(addr, first ?? name);
          if (first !== undefined) continue;
        }
        // Only the embedded proxy binds `listen`; another router's frontend may carry several services.
        if (addr === undefined || (field === 'listen' && svc.traffic.router.kind !== 'proxy')) continue;
        const port = addr.slice(addr.lastIndexOf(':') + 1);
        const other = seen.get(port);
        if (other) {
          ctx.addIssue({
            code: 'custom',
            path: ['services', name, 'traffic', field],
            message: `port ${port} is already used by ${other}`,
          });
        } else seen.set(port, field === 'listen' ? `service ${name}` : `the preview listener of ${name}`);
      }
    }
  })
  .transform(inheritNotify);

export type ServiceSpec = z.output<typeof serviceSchema>;
export type ProcessServiceSpec = Extract<ServiceSpec, { runtime: 'process' }>;
export type DockerServiceSpec = Extract<ServiceSpec, { runtime: 'docker' }>;
export type OciServiceSpec = Extract<ServiceSpec, { runtime: 'oci' }>;
export type EcsServiceSpec = Extract<ServiceSpec, { runtime: 'ecs' }>;
export type ProbeSpec = z.output<typeof probeSchema>;

export type BatonFile = z.output<typeof fileSchema>;
