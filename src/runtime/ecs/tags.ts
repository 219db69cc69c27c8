import { createHash } from 'node:crypto';
import type { Tag } from '@aws-sdk/client-ecs';

/**
 * Tags on every ECS resource Baton creates (task definition revisions and services): `list` and a
 * resumed step find them by tag, never by guessing. ECS tags are `{key, value}`.
 */
export const TAG = {
  managedBy: 'baton:managed-by',
  service: 'baton:service',
  revision: 'baton:revision',
  deployment: 'baton:deployment',
  instance: 'baton:instance',
  /** The app's port and container name, to build the address and find the logs. */
  port: 'baton:port',
  container: 'baton:container',
  /** sha256 of the registered task definition input: a changed spec under the same revision is caught. */
  spec: 'baton:spec',
  /** Which control plane created it, so two Batons in one account never adopt each other's. */
  owner: 'baton:owner',
  /** Set by `stop` (desiredCount 0 by Baton, as opposed to a service whose task crashed). */
  stopped: 'baton:stopped',
  restarts: 'baton:restarts',
} as const;

export const MANAGED_BY = 'baton';

export const toTags = (m: Record<string, string>): Tag[] =>
  Object.entries(m).map(([key, value]) => ({ key, value }));

export const fromTags = (tags: Tag[] | undefined): Record<string, string> =>
  Object.fromEntries((tags ?? []).filter((t) => t.key).map((t) => [t.key!, t.value ?? '']));

export function isOurs(tags: Record<string, string>, owner: string | undefined, service?: string): boolean {
  if (tags[TAG.managedBy] !== MANAGED_BY) return false;
  if (owner !== undefined && tags[TAG.owner] !== owner) return false;
  return service === undefined || tags[TAG.service] === service;
}

/**
 * CreateService's `clientToken` (at most 36 characters): derived from the owner and the instance id, so
 * a retried create after a lost answer — or the same step repeated by a resumed deploy — gets the
 * service the first attempt made, never a second one.
 */
export function clientTokenFor(owner: string | undefined, id: string): string {
  return createHash('sha256')
    .update(`baton|${owner ?? ''}|${id}`)
    .digest('hex')
    .slice(0, 32);
}

export const specHash = (v: unknown): string =>
  createHash('sha256').update(JSON.stringify(v)).digest('hex').slice(0, 16);
