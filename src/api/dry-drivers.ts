import type { Logger } from 'pino';
import type { OciClients } from '../cloud/oci/clients.js';
import { CallLog } from '../cloud/planned.js';
import type { DryDrivers } from '../engine/dry-run.js';
import { createRouter } from '../router/create.js';
import { createRuntime } from '../runtime/create.js';
import type { ServiceSpec } from '../spec/schema.js';

export interface DryDriverOptions {
  dataDir: string;
  logger?: Logger | undefined;
  ociClients?: (() => OciClients) | undefined;
  /** Compartments the live runtime searches (the spec's own is added). */
  ociCompartments?: string[] | undefined;
}

/**
 * `baton plan`'s drivers: a fresh OCI runtime and oci-lb router in dry-run mode on the same clients,
 * owner and state file (read only) as the live ones, so they find what the live ones made. Only for a
 * service whose runtime and router both have a dry run; the others' plan is their steps alone.
 */
export function dryDriversFor(opts: DryDriverOptions): (spec: ServiceSpec) => DryDrivers | undefined {
  return (spec) => {
    if (spec.runtime !== 'oci' || spec.traffic.router.kind !== 'oci-lb') return undefined;
    const log = new CallLog();
    const compartments = new Set([...(opts.ociCompartments ?? []), spec.containerInstance.compartmentId]);
    const runtime = createRuntime('oci', { ...opts, ociCompartments: [...compartments], dryRun: log });
    const router = createRouter(spec.traffic.router, { ...opts, dryRun: log });
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
