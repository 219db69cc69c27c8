import { z } from 'zod';
import { duration } from './primitives.js';

/** Defaults of the `cluster` section, defined once (schema, agent and docs read them). */
export const CLUSTER_DEFAULTS = {
  governorCapacity: 1,
  governorExpiry: 300_000,
  maxFailures: 1,
  cluster: 'default',
  protocol: 'http',
  priority: 1,
} as const;

const token = z.string().regex(/^[A-Za-z0-9_-]+$/, "expected letters, digits, '_' and '-'");

/**
 * A governor: Hoist's cluster-wide semaphore. A name alone uses a governor made by `baton governor add`
 * (or makes one with the defaults); with `capacity`/`expiry` the first agent or `baton deploy --cluster`
 * creates it so. An existing governor keeps its own settings (change them with `baton governor set`).
 */
const governorSchema = z.union([
  token.transform((name) => ({
    name,
    capacity: CLUSTER_DEFAULTS.governorCapacity as number,
    expiry: CLUSTER_DEFAULTS.governorExpiry as number,
  })),
  z.strictObject({
    name: token,
    /** How many instances may hold it at once, cluster-wide. */
    capacity: z.number().int().min(1).default(CLUSTER_DEFAULTS.governorCapacity),
    /** A lease not released by then (its holder died) ends. */
    expiry: duration('cluster governor expiry').default(CLUSTER_DEFAULTS.governorExpiry),
  }),
]);

/**
 * `cluster:` of a service — how `baton agent` runs it on every node (cluster mode, docs/cluster-agent.md).
 * Ignored by `baton serve`.
 */
export const clusterSchema = z.strictObject({
  /** At most `capacity` instances update (start new → drain old) at once, cluster-wide. */
  updateGovernor: governorSchema.optional(),
  /** At most `capacity` instances restart (remediation, touched files, `baton transition restart`) at once. */
  restartGovernor: governorSchema.optional(),
  /** Files whose mtime moving forward restarts this service's instances on that node; relative paths are under the agent's data dir. */
  restartFiles: z.array(z.string().min(1)).default([]),
  /** Updated instances that may fail health before the desired revision reverts on all nodes. */
  maxFailures: z.number().int().min(1).default(CLUSTER_DEFAULTS.maxFailures),
  /** How instances are registered in the service registry (Hoist's `register_ports`). */
  register: z
    .strictObject({
      cluster: token.default(CLUSTER_DEFAULTS.cluster),
      protocol: token.default(CLUSTER_DEFAULTS.protocol),
      /** Lower is preferred by consumers that honour it. */
      priority: z.number().int().default(CLUSTER_DEFAULTS.priority),
      annotations: z.record(z.string(), z.string()).default({}),
    })
    .prefault({}),
});

export type ClusterSpec = z.output<typeof clusterSchema>;
export type GovernorSpec = z.output<typeof governorSchema>;

/** The cluster section of a service, with defaults when it has none. */
export function clusterOf(spec: { cluster?: ClusterSpec | undefined }): ClusterSpec {
  return spec.cluster ?? clusterSchema.parse({});
}
