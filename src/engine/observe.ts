import { type Instance, InstanceState } from '../core/types.js';
import type { ObservedInstance } from '../plan/types.js';
import type { RouteStatus } from '../router/router.js';

/**
 * What the planner sees: an instance is ready when it runs and its router backend is active and
 * healthy. Anything else (exited, draining, unknown to the router) is replaced, not counted.
 */
export function observe(instances: Instance[], route: RouteStatus | undefined): ObservedInstance[] {
  const backends = new Map((route?.backends ?? []).map((b) => [b.id, b]));
  return instances
    .filter((i) => i.state !== InstanceState.Stopped)
    .map((i) => {
      const b = backends.get(i.id);
      return {
        id: i.id,
        revision: i.revision,
        ready: i.state === InstanceState.Running && b !== undefined && b.state === 'active' && b.healthy,
      };
    })
    .sort((a, b) => a.id.localeCompare(b.id));
}
