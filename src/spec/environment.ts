import { z } from 'zod';
import { checkSchema } from './hooks.js';

/**
 * `environments:` — named deploy targets (Kamal's destinations). Each names where its control plane is
 * (`api` with a token and a CA file) or its cluster (`nats`), the checks that prove a release works
 * there (the seed's integration tests, run through its load balancer), and overrides of any service
 * field, merged onto the service and validated as a whole (`environment-merge.ts`).
 */
const envName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'expected an environment variable name');

/** Where the token comes from; read only when the environment is used, so other commands need none. */
const tokenSource = z.union([
  z.strictObject({ env: envName }),
  z.strictObject({ file: z.string().min(1, 'expected a file path') }),
]);

/** `https://host:7607`, `http://127.0.0.1:7607` or `host:port` (http). */
const apiUrl = z
  .string()
  .regex(
    /^(https?:\/\/)?(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):\d{1,5}\/?$/,
    'expected the control plane address, e.g. https://deploy.example:7607 or 127.0.0.1:7607',
  );

export const environmentSchema = z
  .strictObject({
    /** The control plane of this environment. */
    api: apiUrl.optional(),
    /** Its API token: `{env: NAME}` or `{file: path}` (relative to baton.yaml). */
    token: tokenSource.optional(),
    /** PEM file of the CA that signed the control plane's certificate (https). */
    ca: z.string().min(1).optional(),
    /** Cluster mode instead: NATS server URL(s). */
    nats: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]).optional(),
    /** Run by `baton release` after a deploy to this environment; a failure rolls it back. */
    checks: z.array(checkSchema).default([]),
    /** Overrides per service: any service field, merged onto it (mappings merge, other values replace). */
    services: z.record(z.string(), z.record(z.string(), z.unknown())).default({}),
  })
  .superRefine((e, ctx) => {
    if ((e.api === undefined) === (e.nats === undefined))
      ctx.addIssue({
        code: 'custom',
        message: 'expected exactly one of api (a control plane) or nats (a cluster)',
      });
    for (const k of ['token', 'ca'] as const)
      if (e[k] !== undefined && e.api === undefined)
        ctx.addIssue({ code: 'custom', path: [k], message: `${k} goes with api (a control plane)` });
    if (e.ca !== undefined && e.api !== undefined && !e.api.startsWith('https://'))
      ctx.addIssue({ code: 'custom', path: ['ca'], message: 'a CA file needs an https:// api address' });
  });

export const environmentsSchema = z.record(
  z.string().regex(/^[a-z][a-z0-9-]{0,62}$/, 'environment names are lower-case letters, digits and dashes'),
  environmentSchema,
);

export type EnvironmentSpec = z.output<typeof environmentSchema>;

interface Targets {
  services: Record<string, { runtime: string }>;
  environments?: Record<string, EnvironmentSpec> | undefined;
  pipeline?:
    | { build: Record<string, unknown>; refs: Record<string, { deploy?: string | undefined }> }
    | undefined;
}

/** Names that must point at something declared: overridden services, deployed environments, built services. */
export function checkTargets(f: Targets, ctx: z.core.$RefinementCtx<Targets>): void {
  const services = Object.keys(f.services);
  const envs = Object.keys(f.environments ?? {});
  const list = (xs: string[]) => xs.join(', ') || 'none';
  for (const [env, e] of Object.entries(f.environments ?? {}))
    for (const name of Object.keys(e.services))
      if (!services.includes(name))
        ctx.addIssue({
          code: 'custom',
          path: ['environments', env, 'services', name],
          message: `overrides service "${name}", which services does not declare (declared: ${list(services)})`,
        });
  for (const [pattern, action] of Object.entries(f.pipeline?.refs ?? {}))
    if (action.deploy !== undefined && !envs.includes(action.deploy))
      ctx.addIssue({
        code: 'custom',
        path: ['pipeline', 'refs', pattern, 'deploy'],
        message: `unknown environment "${action.deploy}" (environments declares: ${list(envs)})`,
      });
  for (const name of Object.keys(f.pipeline?.build ?? {})) {
    const svc = f.services[name];
    if (svc?.runtime !== 'docker')
      ctx.addIssue({
        code: 'custom',
        path: ['pipeline', 'build', name],
        message: svc
          ? `service "${name}" has runtime ${svc.runtime}: only docker services have images to build`
          : `unknown service "${name}" (declared: ${list(services)})`,
      });
  }
}
