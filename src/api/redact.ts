import { HIDDEN, hidePaths, hideValues, secretPathsOf, secretsOf } from '../core/secrets.js';
import type { Revision } from '../core/types.js';
import type { Repo } from '../store/repo.js';

/**
 * A revision as shown to users: every value that came from a secret (by its path in the spec, and
 * wherever else it appears, e.g. a failure reason) and a docker registry password are hidden.
 */
export function redactRevision(r: Revision): Revision {
  const secrets = secretsOf(r);
  let spec = hidePaths(r.spec, secretPathsOf(r));
  // A docker service's registry password is always a secret, wherever it came from.
  if (spec.runtime === 'docker' && spec.registryAuth)
    spec = { ...spec, registryAuth: { ...spec.registryAuth, password: HIDDEN } };
  return hideValues({ ...r, spec }, secrets);
}

/** The secret values of every kept revision of `service`: what to hide in its deployments, journal, audit. */
export async function serviceSecrets(repo: Repo, service: string): Promise<string[]> {
  const revisions = await repo.listRevisions(service);
  return [...new Set(revisions.flatMap(secretsOf))];
}

/** `value` with the secret values of `service`'s revisions hidden. */
export async function redactFor<T>(repo: Repo, service: string, value: T): Promise<T> {
  return hideValues(value, await serviceSecrets(repo, service));
}
