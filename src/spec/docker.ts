import { z } from 'zod';
import { envMap } from './primitives.js';

/**
 * The fields of a `runtime: docker` service (the common ones — replicas, probe, traffic, strategy,
 * stopTimeout, hooks — are added by `schema.ts`). Instances are containers of `image:tag` whose `port`
 * is published on 127.0.0.1 at a host port Docker picks.
 */
export const DOCKER_DEFAULTS = {
  tag: 'latest',
  network: 'bridge',
  pull: 'missing',
  purge: true,
  healthcheck: 'image',
} as const;

/** A string is split on spaces, a list is taken as argv (as `command` of a process service). */
const argvLike = z.union([z.string().min(1, 'must not be empty'), z.array(z.string()).min(1)]);

/** `host:container` or `host:container:ro|rw`; the host part is a path or a named volume. */
const volume = z
  .string()
  .regex(
    /^[^:]+:\/[^:]*(:(ro|rw))?$/,
    'expected host:container or host:container:ro, with an absolute container path (e.g. ./data:/data:ro)',
  );

export const logDriverSchema = z.strictObject({
  /** Docker log driver: json-file (Docker's default), syslog, journald, local, none, … */
  type: z.string().regex(/^[a-z][a-z0-9_-]*$/, 'expected a Docker log driver name, e.g. json-file or syslog'),
  /** Driver options, e.g. for syslog: `{ syslog-address: udp://127.0.0.1:514, tag: '{{.Name}}' }`. */
  options: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()]).transform(String)).default({}),
});

export const registryAuthSchema = z.strictObject({
  username: z.string().min(1),
  /** Usually `!env REGISTRY_PASSWORD`: never shown in plans, history or API answers. */
  password: z.string(),
  serveraddress: z.string().min(1).optional(),
});

export const dockerFields = {
  runtime: z.literal('docker'),
  /** Image name without its tag, e.g. `ghcr.io/acme/web`. */
  image: z
    .string()
    .min(1, 'image must not be empty')
    .regex(/^[^\s:@]+(:\d+\/[^\s:@]+)?$/, 'expected an image name without a tag (put the tag in `tag`)'),
  tag: z
    .string()
    .regex(/^[\w][\w.-]{0,127}$/, 'expected a Docker tag, e.g. latest or 1.4.2')
    .default(DOCKER_DEFAULTS.tag),
  /** Overrides the image's CMD. */
  command: argvLike.optional(),
  /** Overrides the image's ENTRYPOINT. */
  entrypoint: argvLike.optional(),
  env: envMap.default({}),
  /** The container port the app listens on (also given to it as `PORT`). */
  port: z
    .number({ error: 'expected the container port the app listens on, e.g. 3000' })
    .int()
    .min(1)
    .max(65535),
  volumes: z.array(volume).default([]),
  /** Docker network the containers join. */
  network: z.string().min(1).default(DOCKER_DEFAULTS.network),
  logDriver: logDriverSchema.optional(),
  registryAuth: registryAuthSchema.optional(),
  /** `missing`: pull when the image is not present; `always`: pull before every start; `never`: local only. */
  pull: z.enum(['missing', 'always', 'never']).default(DOCKER_DEFAULTS.pull),
  /** Remove containers labelled by Baton for this service that belong to no serving revision. */
  purge: z.boolean().default(DOCKER_DEFAULTS.purge),
  /** `image`: keep the image's HEALTHCHECK running besides Baton's probe; `ignore`: disable it. */
  healthcheck: z.enum(['image', 'ignore']).default(DOCKER_DEFAULTS.healthcheck),
};

export type LogDriverSpec = z.output<typeof logDriverSchema>;
export type RegistryAuthSpec = z.output<typeof registryAuthSchema>;
