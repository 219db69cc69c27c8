import { type ClusterDeployResult, deployToCluster } from '../../agent/deploy.js';
import type { Io } from '../context.js';
import type { SelectedService } from '../spec-input.js';
import { actor, withCluster } from './cluster-common.js';

/** `baton deploy --cluster`: each selected service's revision recorded and made desired in NATS. */
export async function deployClusterServices(
  io: Io,
  selected: SelectedService[],
  opts: { nats?: string; json?: boolean },
): Promise<number> {
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
  if (opts.json) io.out(JSON.stringify({ ok: true, results }, null, 2));
  else
    for (const r of results)
      io.out(
        `${r.service}: ${r.desired ? `desired revision ${r.revision}${r.desired.previous !== null ? ` (was ${r.desired.previous})` : ''}` : `revision ${r.revision} is desired already`}; the agents roll it out (baton status --cluster)`,
      );
  return 0;
}
