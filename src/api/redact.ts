import type { Revision } from '../core/types.js';

const HIDDEN = '[secret]';

/** A revision as shown to users: env values that came from secrets are hidden. */
export function redactRevision(r: Revision): Revision {
  const secret = new Set(r.secretEnv ?? []);
  if (secret.size === 0) return r;
  const env = Object.fromEntries(Object.entries(r.spec.env).map(([k, v]) => [k, secret.has(k) ? HIDDEN : v]));
  return { ...r, spec: { ...r.spec, env } };
}
