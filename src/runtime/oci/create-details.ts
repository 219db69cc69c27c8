import type { StartRequest } from '../runtime.js';
import type { OciServiceSpec } from './spec.js';
import { tagsFor } from './tags.js';

/**
 * The `CreateContainerInstanceDetails` body of one instance: the spec's details as written, named after
 * the instance, tagged, and with PORT/BATON_* in every container's environment (like the docker runtime).
 */
export function createDetails(
  req: StartRequest,
  spec: OciServiceSpec,
  owner: string | undefined,
): Record<string, unknown> {
  const d = spec.containerInstance;
  const env = {
    ...spec.env,
    PORT: String(spec.port),
    BATON_SERVICE: req.service,
    BATON_REVISION: String(req.revision),
    BATON_INSTANCE: req.id,
  };
  return {
    ...d,
    displayName: req.id,
    gracefulShutdownTimeoutInSeconds:
      d.gracefulShutdownTimeoutInSeconds ?? Math.min(300, Math.ceil(spec.stopTimeout / 1000)),
    containers: d.containers.map((c) => ({
      ...c,
      environmentVariables: { ...env, ...c.environmentVariables },
    })),
    freeformTags: { ...d.freeformTags, ...tagsFor(req, spec.port, owner) },
  };
}
