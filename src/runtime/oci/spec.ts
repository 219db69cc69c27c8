import { z } from 'zod';
import { InputError } from '../../core/errors.js';
import { envMap } from '../../spec/primitives.js';

/**
 * `CreateContainerInstanceDetails` in OCI's own field names, as the service spec carries it. The fields
 * Baton needs are checked here; every other OCI field (volumes, dnsConfig, imagePullSecrets, faultDomain,
 * containers' command, arguments, volumeMounts, resourceConfig, healthChecks…) passes through unchanged
 * for OCI to validate. Baton sets `displayName` (the instance id), adds its freeform tags and the
 * containers' PORT/BATON_* environment variables, and fills `gracefulShutdownTimeoutInSeconds` from
 * `stopTimeout` when absent.
 */
export const createDetailsSchema = z.looseObject({
  compartmentId: z.string().startsWith('ocid1.', 'expected a compartment OCID'),
  availabilityDomain: z.string().min(1, 'expected an availability domain, e.g. GARu:EU-FRANKFURT-1-AD-3'),
  shape: z.string().min(1, 'expected a shape, e.g. CI.Standard.E4.Flex'),
  shapeConfig: z.looseObject({
    ocpus: z.number().positive(),
    memoryInGBs: z.number().positive().optional(),
  }),
  vnics: z
    .array(z.looseObject({ subnetId: z.string().startsWith('ocid1.', 'expected a subnet OCID') }))
    .length(1, 'a container instance has exactly one VNIC'),
  containers: z
    .array(
      z.looseObject({
        imageUrl: z.string().min(1, 'expected an image URL, e.g. docker.io/httpd:2.4'),
        displayName: z.string().optional(),
        environmentVariables: z.record(z.string(), z.string()).optional(),
      }),
    )
    .min(1, 'expected at least one container'),
  /** Baton's supervisor restarts instances, as with Docker (restart policy `no`). */
  containerRestartPolicy: z.enum(['ALWAYS', 'NEVER', 'ON_FAILURE']).default('NEVER'),
  freeformTags: z.record(z.string(), z.string()).optional(),
  gracefulShutdownTimeoutInSeconds: z.number().int().min(0).max(300).optional(),
});

/**
 * The part of a `runtime: oci` service that this runtime reads (the common fields — probe, traffic,
 * strategy, stopTimeout — are the engine's). To be merged into `src/spec/schema.ts` when wired.
 */
export const ociServiceSchema = z.looseObject({
  runtime: z.literal('oci'),
  /** The port the app listens on inside the instance: an instance's address is `privateIp:port`. */
  port: z.number().int().min(1).max(65535),
  /** Added to every container's environmentVariables (a container's own entries win). */
  env: envMap.default({}),
  containerInstance: createDetailsSchema,
  /** Milliseconds (the engine's parsed `stopTimeout`). */
  stopTimeout: z.number().int().nonnegative().default(10_000),
});

export type CreateDetails = z.output<typeof createDetailsSchema>;
export type OciServiceSpec = z.output<typeof ociServiceSchema>;

/** Reads a service's OCI fields; bad input is an InputError naming each field. */
export function parseOciSpec(spec: unknown): OciServiceSpec {
  const r = ociServiceSchema.safeParse(spec);
  if (r.success) return r.data;
  const issues = r.error.issues.map((i) => `${i.path.join('.') || '(spec)'}: ${i.message}`);
  throw new InputError(`runtime oci: invalid service spec: ${issues.join('; ')}`, { issues });
}
