import path from 'node:path';
import type { Logger } from 'pino';
import type { AwsClients } from '../cloud/aws/clients.js';
import type { OciClients } from '../cloud/oci/clients.js';
import type { CallLog } from '../cloud/planned.js';
import { DriverError } from '../core/errors.js';
import { DockerRuntime } from './docker/docker-runtime.js';
import { EcsRuntime } from './ecs/ecs-runtime.js';
import { MultiRuntime } from './multi.js';
import { OciRuntime } from './oci/oci-runtime.js';
import { ProcessRuntime } from './process/process-runtime.js';
import type { Runtime } from './runtime.js';

export const RUNTIME_KINDS = ['process', 'docker', 'oci', 'ecs'] as const;

export interface RuntimeOptions {
  dataDir: string;
  logger?: Logger;
  host?: string;
  /** docker: `unix:///path` or `tcp://host:port` (default `DOCKER_HOST`, else /var/run/docker.sock). */
  dockerHost?: string;
  /** docker: containers younger than this are never purged (default 30 s). */
  purgeMinAgeMs?: number | undefined;
  /** oci: the SDK clients, made on first need (the daemon's `lazyOciClients`; tests: the fake's). */
  ociClients?: (() => OciClients) | undefined;
  /** oci: compartments `list` searches (those of the stored specs; each start adds its own). */
  ociCompartments?: string[] | undefined;
  /** oci: between two reads while waiting for a state (default 5 s). */
  ociPollIntervalMs?: number | undefined;
  /** ecs: the SDK clients, made on first need (shared with router alb). */
  awsClients?: (() => AwsClients) | undefined;
  /** ecs: clusters `list` searches (those of the stored specs; each start adds its own). */
  ecsClusters?: string[] | undefined;
  /** Dry run (`baton plan`): drivers that support it read for real and record their writes here. */
  dryRun?: CallLog | undefined;
}

/** The runtime named by a service's `runtime` field, keeping its state under `dataDir`. */
export function createRuntime(kind: string, opts: RuntimeOptions): Runtime {
  switch (kind) {
    case 'process':
      return new ProcessRuntime({
        stateDir: path.join(opts.dataDir, 'instances'),
        logDir: path.join(opts.dataDir, 'logs'),
        ...(opts.logger ? { logger: opts.logger } : {}),
        ...(opts.host ? { host: opts.host } : {}),
      });
    case 'docker':
      return new DockerRuntime({
        // Containers carry the data dir as their owner: two control planes on one Docker host never mix.
        owner: path.resolve(opts.dataDir),
        stateDir: path.join(opts.dataDir, 'docker'),
        ...(opts.logger ? { logger: opts.logger } : {}),
        ...(opts.dockerHost ? { endpoint: opts.dockerHost } : {}),
        ...(opts.purgeMinAgeMs !== undefined ? { purgeMinAgeMs: opts.purgeMinAgeMs } : {}),
      });
    case 'oci':
      if (!opts.ociClients) throw new DriverError('runtime', 'runtime oci needs OCI clients (credentials)');
      return new OciRuntime({
        clients: opts.ociClients(),
        // Instances carry the data dir as their owner: two control planes in one compartment never mix.
        owner: path.resolve(opts.dataDir),
        compartmentIds: opts.ociCompartments,
        pollIntervalMs: opts.ociPollIntervalMs,
        stateFile: path.join(opts.dataDir, 'oci', 'instances.json'),
        dryRun: opts.dryRun,
        purgeMinAgeMs: opts.purgeMinAgeMs,
        logger: opts.logger,
      });
    case 'ecs':
      if (!opts.awsClients) throw new DriverError('runtime', 'runtime ecs needs AWS clients (credentials)');
      return new EcsRuntime({
        clients: opts.awsClients(),
        // Every ECS resource is tagged with the data dir as its owner, as docker and oci instances.
        owner: path.resolve(opts.dataDir),
        clusters: opts.ecsClusters,
        dryRun: opts.dryRun,
        logger: opts.logger,
      });
    default:
      throw new DriverError(
        'runtime',
        `unknown runtime ${JSON.stringify(kind)}; known: ${RUNTIME_KINDS.join(', ')}`,
      );
  }
}

/** Every runtime kind behind one Runtime, each created on first need; `process` is the default. */
export function createMultiRuntime(opts: RuntimeOptions): MultiRuntime {
  const factories = Object.fromEntries(RUNTIME_KINDS.map((k) => [k, () => createRuntime(k, opts)]));
  return new MultiRuntime(factories, 'process', opts.logger);
}
