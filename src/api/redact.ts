import type { Revision } from '../core/types.js';

const HIDDEN = '[secret]';

/** A revision as shown to users: env values that came from secrets, and registry passwords, are hidden. */
export function redactRevision(r: Revision): Revision {
  const secret = new Set(r.secretEnv ?? []);
  // A docker service's registry password is always a secret, wherever it came from.
  const spec =
    r.spec.runtime === 'docker' && r.spec.registryAuth
      ? { ...r.spec, registryAuth: { ...r.spec.registryAuth, password: HIDDEN } }
      : r.spec;
  if (secret.size === 0) return spec === r.spec ? r : { ...r, spec };
  const env = Object.fromEntries(Object.entries(spec.env).map(([k, v]) => [k, secret.has(k) ? HIDDEN : v]));
  return { ...r, spec: { ...spec, env } };
}
