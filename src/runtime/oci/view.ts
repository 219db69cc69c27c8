import type { models } from 'oci-containerinstances';
import { type Instance, InstanceState } from '../../core/types.js';
import { TAG } from './tags.js';

/** What `list` gives (a summary) and `get` gives (the full instance) share these fields. */
export type Described = Pick<
  models.ContainerInstanceSummary,
  'id' | 'lifecycleState' | 'timeCreated' | 'freeformTags'
>;

/**
 * A container instance as a Baton Instance. OCI states: CREATING/UPDATING/ACTIVE → running (Baton's own
 * probe decides health); INACTIVE → stopped when Baton stopped it (tag), else exited (its containers
 * ended); FAILED → exited; DELETING/DELETED → stopped.
 */
export function instanceOf(ci: Described, host: string): Instance {
  const tags = ci.freeformTags ?? {};
  const s = ci.lifecycleState;
  const running = s === 'CREATING' || s === 'UPDATING' || s === 'ACTIVE';
  const stopped = s === 'DELETING' || s === 'DELETED' || (s === 'INACTIVE' && tags[TAG.stopped] === 'true');
  return {
    id: tags[TAG.instance] ?? ci.id,
    service: tags[TAG.service] ?? '',
    revision: Number(tags[TAG.revision] ?? 0),
    deployment: tags[TAG.deployment] ?? '',
    host,
    port: Number(tags[TAG.port] ?? 0),
    state: running ? InstanceState.Running : stopped ? InstanceState.Stopped : InstanceState.Exited,
    exitCode: null,
    signal: null,
    startedAt: new Date(ci.timeCreated).toISOString(),
    restarts: Number(tags[TAG.restarts] ?? 0),
  };
}
