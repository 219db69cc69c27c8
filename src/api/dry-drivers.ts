import type { Logger } from 'pino';
import type { AwsClients } from '../cloud/aws/clients.js';
import type { OciClients } from '../cloud/oci/clients.js';
import { CallLog } from '../cloud/planned.js';
import type { DryDrivers } from '../engine/dry-run.js';
import type { AlbRouter } from '../router/alb/router.js';
import { createRouter } from '../router/create.js';
import type { Router } from '../router/router.js';
import { createRuntime } from '../runtime/create.js';
import type { ServiceSpec } from '../spec/schema.js';

export interface DryDriverOptions {
  dataDir: string;
  logger?: Logger | undefined;
  ociClients?: (() => OciClients) | undefined;
  /** Compartments the live runtime searches (the spec's own is added). */
  ociCompartments?: string[] | undefined;
  awsClients?: (() => AwsClients) | undefined;
  ecsClusters?: string[] | undefined;
  /** The live router drivers by key (`createMultiRouter`'s `made`): the alb dry run starts from its routes. */
  liveRouters?: Map<string, Router> | undefined;
}

/**
 * `baton plan`'s drivers: a fresh runtime and router in dry-run mode (oci + oci-lb, ecs + alb) on the
 * same clients, owner and state (the oci-lb state file read only; the live alb router's routes) as the
 * live ones, so they find what the live ones made. Only for a service whose runtime and router both have
 * a dry run; the others' plan is their steps alone.
 */
export function dryDriversFor(opts: DryDriverOptions): (spec: ServiceSpec) => DryDrivers | undefined {
  return (spec) => {
    const log = new CallLog();
    let runtime: DryDrivers['runtime'];
    if (spec.runtime === 'oci' && spec.traffic.router.kind === 'oci-lb') {
      const compartments = new Set([...(opts.ociCompartments ?? []), spec.containerInstance.compartmentId]);
      runtime = createRuntime('oci', { ...opts, ociCompartments: [...compartments], dryRun: log });
    } else if (spec.runtime === 'ecs' && spec.traffic.router.kind === 'alb') {
      const clusters = new Set([...(opts.ecsClusters ?? []), spec.ecs.cluster]);
      runtime = createRuntime('ecs', { ...opts, ecsClusters: [...clusters], dryRun: log });
    } else return undefined;
    const liveAlb = opts.liveRouters?.get('alb') as AlbRouter | undefined;
    const router = createRouter(spec.traffic.router, {
      ...opts,
      dryRun: log,
      albRoutes: liveAlb?.snapshot(),
    });
    return {
      runtime,
      router,
      log,
      async close() {
        await runtime.close();
        await router.close();
      },
    };
  };
}
