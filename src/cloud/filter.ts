import { isDeepStrictEqual } from 'node:util';

/**
 * deploy-inst's filter, made precise: a resource matches when, for every key the filter lists, the
 * resource has that key with an equal value. Keys the filter does not list are ignored. Values are
 * compared whole: a nested map (`freeformTags: {env: prod}`) must equal the resource's map exactly — not
 * contain it — so `{freeformTags: {env: prod}}` does not match a resource tagged `{env: prod, team: a}`.
 * Scalars compare with ===.
 */
export function matchesFilter(resource: object, filter: Record<string, unknown>): boolean {
  const r = resource as Record<string, unknown>;
  return Object.entries(filter).every(([k, v]) => isDeepStrictEqual(r[k], v));
}
