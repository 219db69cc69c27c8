import { type ClusterDeployResult, deployToCluster } from '../../agent/deploy.js';
import { formatDuration } from '../../core/duration.js';
import type { ServiceSpec } from '../../spec/schema.js';
import type { Io } from '../context.js';
import type { SelectedService } from '../spec-input.js';
import { actor, withCluster } from './cluster-common.js';

/** `baton deploy --cluster`: each selected service's revision recorded and made desired in NATS. */
export async function deployClusterServices(
  io: Io,
  selected: SelectedService[],
  opts: { nats?: string; json?: boolean },
): Promise<number> {
  const warnings = selected.flatMap((s) => leaseWarnings(s.name, s.spec));
  for (const w of warnings) io.err(`warning: ${w}`);
  const results: ClusterDeployResult[] = await withCluster(opts, async (c) => {
    const out: ClusterDeployResult[] = [];
    for (const s of selected) {
      out.push(
        await deployToCluster(c.nc, c.store, {
          service: s.name,
          spec: s.spec,
          secretEnv: s.secretEnv,
          secretPaths: s.secretPaths,
          actor: actor(),
          replicas: c.replicas,
        }),
      );
    }
    return out;
  });
  if (opts.json) io.out(JSON.stringify({ ok: true, results, warnings }, null, 2));
  else
    for (const r of results)
      io.out(
        `${r.service}: ${r.desired ? `desired revision ${r.revision}${r.desired.previous !== null ? ` (was ${r.desired.previous})` : ''}` : `revision ${r.revision} is desired already`}; the agents roll it out (baton status --cluster)`,
      );
  return 0;
}

/**
 * A governor lease that may expire while an instance is still starting lets another agent take the slot
 * (more than `capacity` updating at once). Not refused — a short expiry can be meant, e.g. to recover fast
 * from dead agents — but said before anything is written.
 */
export function leaseWarnings(service: string, spec: ServiceSpec): string[] {
  const window = spec.probe.startTimeout;
  const out: string[] = [];
  for (const field of ['updateGovernor', 'restartGovernor'] as const) {
    const g = spec.cluster?.[field];
    if (g && g.expiry < window)
      out.push(
        `${service}: cluster.${field}.expiry ${formatDuration(g.expiry)} is shorter than probe.startTimeout ${formatDuration(window)}: a lease can expire while an instance starts and let another agent in (make the expiry exceed the slowest update)`,
      );
  }
  return out;
}
