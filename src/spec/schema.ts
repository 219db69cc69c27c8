import { z } from 'zod';
import { parseDuration } from '../core/duration.js';

/**
 * The `baton.yaml` schema. It doubles as the reference: every field carries its description and default,
 * and `docs/baton-yaml.md` mirrors it. Defaults live here once; CLI flags reuse them.
 */
export const DEFAULTS = {
  replicas: 1,
  probe: {
    interval: 1000,
    timeout: 1000,
    healthyThreshold: 1,
    unhealthyThreshold: 3,
    startTimeout: 30_000,
  },
  drainTimeout: 30_000,
  stopTimeout: 10_000,
  // Kubernetes' defaults: surge one extra in four, lose at most one in four.
  maxSurge: '25%',
  maxUnavailable: '25%',
  historyLimit: 10,
} as const;

const duration = (what: string) =>
  z.union([z.string(), z.number()]).transform((v, ctx) => {
    const ms = parseDuration(v);
    if (ms === undefined) {
      ctx.addIssue({
        code: 'custom',
        message: `expected a duration such as 500ms, 5s or 2m for ${what}, found ${JSON.stringify(v)}`,
      });
      return z.NEVER;
    }
    return ms;
  });

/** An absolute count or a percentage of replicas (`25%`). */
const countOrPercent = z.union([
  z.number().int().nonnegative(),
  z.string().regex(/^\d+(\.\d+)?%$/, 'expected a count or a percentage such as 25%'),
]);

const hostPort = z
  .string()
  .regex(/^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, 'expected host:port, e.g. 127.0.0.1:8080')
  .refine((s) => {
    const port = Number(s.slice(s.lastIndexOf(':') + 1));
    return port > 0 && port < 65536;
  }, 'port must be between 1 and 65535');

const envMap = z.record(
  z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'expected an environment variable name'),
  z.union([z.string(), z.number(), z.boolean()]).transform(String),
);

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
  })
  .superRefine((p, ctx) => {
    const kinds = [p.http, p.tcp, p.exec].filter((k) => k !== undefined).length;
    if (kinds !== 1) {
      ctx.addIssue({ code: 'custom', message: `expected exactly one of http, tcp or exec, found ${kinds}` });
    }
  });

const strategySchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('replace') }),
  z.strictObject({
    type: z.literal('rolling'),
    maxSurge: countOrPercent.default(DEFAULTS.maxSurge),
    maxUnavailable: countOrPercent.default(DEFAULTS.maxUnavailable),
  }),
]);

const trafficSchema = z.strictObject({
  /** Where the embedded proxy listens for this service. */
  listen: hostPort,
  drainTimeout: duration('traffic.drainTimeout').default(DEFAULTS.drainTimeout),
});

const processRuntime = z.strictObject({
  runtime: z.literal('process'),
  /** Program to run; a string is split on spaces, an array is taken as argv. */
  command: z.union([z.string().min(1, 'command must not be empty'), z.array(z.string()).min(1)]),
  args: z.array(z.string()).default([]),
  cwd: z.string().optional(),
  env: envMap.default({}),
  replicas: z.number().int().min(0, 'replicas must be 0 or more').default(DEFAULTS.replicas),
  probe: probeSchema.prefault({ tcp: {} }),
  traffic: trafficSchema,
  strategy: strategySchema.prefault({ type: 'rolling' }),
  stopTimeout: duration('stopTimeout').default(DEFAULTS.stopTimeout),
});

export const serviceSchema = z.discriminatedUnion('runtime', [processRuntime]);

export const fileSchema = z
  .strictObject({
    version: z.literal(1).default(1),
    services: z.record(
      z.string().regex(/^[a-z][a-z0-9-]{0,62}$/, 'service names are lower-case letters, digits and dashes'),
      // A missing `runtime` means the embedded default.
      z.preprocess(
        (v) => (v && typeof v === 'object' && !('runtime' in v) ? { runtime: 'process', ...v } : v),
        serviceSchema,
      ),
    ),
  })
  .superRefine((f, ctx) => {
    const seen = new Map<string, string>();
    for (const [name, svc] of Object.entries(f.services)) {
      const port = svc.traffic.listen.slice(svc.traffic.listen.lastIndexOf(':') + 1);
      const other = seen.get(port);
      if (other) {
        ctx.addIssue({
          code: 'custom',
          path: ['services', name, 'traffic', 'listen'],
          message: `port ${port} is already used by service ${other}`,
        });
      } else seen.set(port, name);
    }
  });

export type ServiceSpec = z.output<typeof serviceSchema>;
export type ProbeSpec = z.output<typeof probeSchema>;
export type StrategySpec = ServiceSpec['strategy'];
export type BatonFile = z.output<typeof fileSchema>;
