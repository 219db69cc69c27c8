import { createHash } from 'node:crypto';
import type { StartRequest } from '../runtime.js';

/**
 * Freeform tags on every container instance Baton creates: `list`/`get` are tag queries, so instances
 * outlive the control plane and a resumed deploy finds what it created. Dashes, not dots: freeform tag
 * keys in OCI are plain strings and dots read like defined-tag namespaces.
 */
export const TAG = {
  managedBy: 'baton-managed-by',
  service: 'baton-service',
  revision: 'baton-revision',
  deployment: 'baton-deployment',
  instance: 'baton-instance',
  port: 'baton-port',
  /** Which control plane created it, so two Batons in one compartment never adopt each other's. */
  owner: 'baton-owner',
  /** Set by `stop` (an INACTIVE instance Baton stopped, as opposed to one whose containers exited). */
  stopped: 'baton-stopped',
  restarts: 'baton-restarts',
} as const;

export const MANAGED_BY = 'baton';

export function tagsFor(req: StartRequest, port: number, owner: string | undefined): Record<string, string> {
  return {
    [TAG.managedBy]: MANAGED_BY,
    [TAG.service]: req.service,
    [TAG.revision]: String(req.revision),
    [TAG.deployment]: req.deployment,
    [TAG.instance]: req.id,
    [TAG.port]: String(port),
    ...(owner ? { [TAG.owner]: owner } : {}),
  };
}

/** Whether these freeform tags are Baton's (of this owner, optionally of one service). */
export function isOurs(
  tags: Record<string, string> | undefined,
  owner: string | undefined,
  service?: string,
): boolean {
  if (!tags || tags[TAG.managedBy] !== MANAGED_BY) return false;
  if (owner !== undefined && tags[TAG.owner] !== owner) return false;
  return service === undefined || tags[TAG.service] === service;
}

/**
 * The `opc-retry-token` of an instance's create: derived from the owner and the instance id, so every
 * attempt — a retry after a lost answer, or the same step repeated by a resumed deploy within OCI's 24 h
 * token lifetime — gets the instance the first one made, never a second.
 */
export function retryTokenFor(owner: string | undefined, id: string): string {
  return createHash('sha256')
    .update(`baton|${owner ?? ''}|${id}`)
    .digest('hex')
    .slice(0, 64);
}
