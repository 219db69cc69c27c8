import { z } from 'zod';
import { InputError } from '../../core/errors.js';
import { envMap } from '../../spec/primitives.js';

/**
 * A secret is a reference ECS resolves when it starts the task (`valueFrom`): a Secrets Manager secret
 * or an SSM parameter ARN, or an SSM parameter name in the same region (`/app/db-password`). Never the
 * value: a task definition is readable by anyone with `ecs:DescribeTaskDefinition`.
 */
const secretRef = z
  .string()
  .regex(
    /^(arn:aws[a-z-]*:(secretsmanager|ssm):[a-z0-9-]+:\d{12}:.+|\/[A-Za-z0-9_.\-/]+)$/,
    'expected a Secrets Manager or SSM parameter ARN, or an SSM parameter name starting with / (a reference, never the value)',
  );

/**
 * The container of the task definition, in ECS's own field names (`ContainerDefinition`). Baton checks
 * `image` and sets `name` (default: the service), `essential`, the port mapping, `environment` (from
 * `env`, plus PORT/BATON_SERVICE/BATON_REVISION) and `secrets` (from `secrets`); every other field
 * (logConfiguration, healthCheck, command, ulimits…) passes through for ECS to validate.
 */
const containerSchema = z.looseObject({
  name: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,255}$/)
    .optional(),
  image: z.string().min(1, 'expected an image, e.g. 123456789012.dkr.ecr.us-east-1.amazonaws.com/web:1.2.3'),
});

/**
 * `RegisterTaskDefinition`'s other fields in ECS's names (cpu, memory, executionRoleArn, taskRoleArn,
 * requiresCompatibilities, runtimePlatform, volumes…). `networkMode` is `awsvpc`: each task gets its own
 * private IP, which is the instance's address and the ALB target (target type `ip`).
 */
const taskDefinitionSchema = z.looseObject({
  family: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,255}$/)
    .optional(),
  networkMode: z.literal('awsvpc').default('awsvpc'),
  executionRoleArn: z.string().startsWith('arn:').optional(),
});

/**
 * The part of a `runtime: ecs` service this runtime reads (the common fields — probe, traffic, strategy,
 * stopTimeout — are the engine's). To be merged into `src/spec/schema.ts` when wired.
 */
export const ecsServiceSchema = z
  .looseObject({
    runtime: z.literal('ecs'),
    /** The port the app listens on in its task: an instance's address is `taskPrivateIp:port`. */
    port: z.number().int().min(1).max(65535),
    /** Plain environment (visible in the task definition). */
    env: envMap.default({}),
    /** Environment variables ECS fills from Secrets Manager / SSM: NAME → reference. */
    secrets: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/), secretRef).default({}),
    ecs: z.strictObject({
      cluster: z.string().min(1),
      container: containerSchema,
      taskDefinition: taskDefinitionSchema.prefault({}),
      /** Where the tasks run: a launch type or a capacity provider strategy (ECS's field names). */
      launchType: z.enum(['FARGATE', 'EC2', 'EXTERNAL', 'MANAGED_INSTANCES']).optional(),
      capacityProviderStrategy: z.array(z.looseObject({ capacityProvider: z.string().min(1) })).optional(),
      platformVersion: z.string().optional(),
      network: z.strictObject({
        subnets: z.array(z.string().startsWith('subnet-')).min(1),
        securityGroups: z.array(z.string().startsWith('sg-')).default([]),
        assignPublicIp: z.enum(['ENABLED', 'DISABLED']).default('DISABLED'),
      }),
    }),
    /** Milliseconds (the engine's parsed `stopTimeout`); ECS's container stopTimeout caps it at 120 s. */
    stopTimeout: z.number().int().nonnegative().default(30_000),
  })
  .superRefine((s, ctx) => {
    if (s.ecs.launchType && s.ecs.capacityProviderStrategy)
      ctx.addIssue({
        code: 'custom',
        path: ['ecs', 'launchType'],
        message: 'expected a launchType or a capacityProviderStrategy, not both',
      });
    for (const name of Object.keys(s.secrets))
      if (name in s.env)
        ctx.addIssue({
          code: 'custom',
          path: ['secrets', name],
          message: `${name} is both in env and in secrets`,
        });
  });

export type EcsServiceSpec = z.output<typeof ecsServiceSchema>;

/** Reads a service's ECS fields; bad input is an InputError naming each field. */
export function parseEcsSpec(spec: unknown): EcsServiceSpec {
  const r = ecsServiceSchema.safeParse(spec);
  if (r.success) return r.data;
  const issues = r.error.issues.map((i) => `${i.path.join('.') || '(spec)'}: ${i.message}`);
  throw new InputError(`runtime ecs: invalid service spec: ${issues.join('; ')}`, { issues });
}
