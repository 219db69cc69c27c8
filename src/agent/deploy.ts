import type { NatsConnection } from '@nats-io/transport-node';
import { InputError, NotFoundError } from '../core/errors.js';
import type { Revision } from '../core/types.js';
import { clusterOf } from '../spec/cluster.js';
import type { ServiceSpec } from '../spec/schema.js';
import { Repo } from '../store/repo.js';
import type { Store } from '../store/store.js';
import { type Desired, readDesired, setDesired } from './desired.js';
import { ensureGovernor } from './governors.js';

export interface ClusterDeployResult {
  service: string;
  revision: number;
  /** False when an identical spec was recorded before and its revision is reused. */
  recorded: boolean;
  /** The new desired state; undefined when that revision was desired already. */
  desired: Desired | undefined;
}

/**
 * `baton deploy --cluster`: records the spec as a revision (once: an identical spec reuses its revision),
 * makes sure the governors it names exist, and writes the desired key. The agents do the rest; no
 * control-plane daemon is involved.
 */
export async function deployToCluster(
  nc: NatsConnection,
  store: Store,
  req: {
    service: string;
    spec: ServiceSpec;
    secretEnv?: string[];
    secretPaths?: string[];
    actor: string;
    replicas: number;
  },
): Promise<ClusterDeployResult> {
  const repo = new Repo(store);
  const found = await repo.findRevisionBySpec(req.service, req.spec);
  const rev: Revision =
    found ??
    (
      await repo.recordRevision(req.service, req.spec, {
        ...(req.secretEnv ? { secretEnv: req.secretEnv } : {}),
        ...(req.secretPaths ? { secretPaths: req.secretPaths } : {}),
      })
    ).revision;
  const c = clusterOf(req.spec);
  for (const g of [c.updateGovernor, c.restartGovernor]) if (g) await ensureGovernor(nc, g, req.replicas);
  const desired = await setDesired(store, req.service, rev.number, req.actor);
  await repo.audit({
    actor: req.actor,
    action: 'cluster.deploy',
    service: req.service,
    revision: rev.number,
    result: 'ok',
    message: desired
      ? `desired revision ${rev.number} (was ${desired.previous ?? 'none'})`
      : 'already desired',
  });
  return { service: req.service, revision: rev.number, recorded: !found, desired };
}

/**
 * `baton set-tag SERVICE TAG`: a new revision whose only change is the image tag (Hoist's
 * `kv put HOIST container/weather/tag v2`). Docker services only.
 */
export async function setTag(
  nc: NatsConnection,
  store: Store,
  req: { service: string; tag: string; actor: string; replicas: number },
): Promise<ClusterDeployResult> {
  const cur = await readDesired(store, req.service);
  if (!cur)
    throw new NotFoundError(`service ${req.service} in the cluster (deploy it with baton deploy --cluster)`);
  const rev = await new Repo(store).getRevision(req.service, cur.value.revision);
  if (!rev) throw new NotFoundError(`revision ${cur.value.revision} of service ${req.service}`);
  if (rev.spec.runtime !== 'docker') {
    throw new InputError(
      `service ${req.service} runs as a ${rev.spec.runtime} service, which has no image tag; change its spec and run baton deploy --cluster`,
    );
  }
  if (!/^[\w][\w.-]{0,127}$/.test(req.tag))
    throw new InputError(`"${req.tag}" is not a Docker tag (e.g. v2, 1.4.2)`);
  return deployToCluster(nc, store, {
    service: req.service,
    spec: { ...rev.spec, tag: req.tag },
    ...(rev.secretEnv ? { secretEnv: rev.secretEnv } : {}),
    ...(rev.secretPaths ? { secretPaths: rev.secretPaths } : {}),
    actor: req.actor,
    replicas: req.replicas,
  });
}
