import type { PlannedCall } from '../../cloud/planned.js';
import { type Instance, InstanceState } from '../../core/types.js';
import type { StartRequest } from '../runtime.js';

const CI = '/20210415/containerInstances';

/** The calls `start` makes for an instance that does not exist yet (what `baton plan` prints). */
export function plannedCreate(body: Record<string, unknown>, startTimeoutMs: number): PlannedCall[] {
  return [
    {
      op: 'CreateContainerInstance',
      method: 'POST',
      path: CI,
      body,
      awaits: `GetContainerInstance until ACTIVE (FAILED aborts; at most ${startTimeoutMs} ms)`,
    },
    {
      op: 'GetVnic',
      method: 'GET',
      path: '/20160918/vnics/{vnicId of the new instance}',
      awaits: 'its privateIp',
    },
  ];
}

export function plannedAction(
  ocid: string,
  action: 'start' | 'stop' | 'restart',
  until: string,
): PlannedCall {
  const op = `${action[0]!.toUpperCase()}${action.slice(1)}ContainerInstance`;
  return {
    op,
    method: 'POST',
    path: `${CI}/${ocid}/actions/${action}`,
    awaits: `GetContainerInstance until ${until}`,
  };
}

export function plannedTag(ocid: string, freeformTags: Record<string, string>): PlannedCall {
  return { op: 'UpdateContainerInstance', method: 'PUT', path: `${CI}/${ocid}`, body: { freeformTags } };
}

export function plannedDelete(ocid: string): PlannedCall {
  return {
    op: 'DeleteContainerInstance',
    method: 'DELETE',
    path: `${CI}/${ocid}`,
    awaits: 'GetContainerInstance until DELETED',
  };
}

/**
 * The instance a dry-run `start` stands in for: its address is a placeholder (the private IP is known only
 * once OCI made the VNIC), shaped as host:port so the router's plan can name its backends.
 */
export function plannedInstance(req: StartRequest, port: number): Instance {
  return {
    id: req.id,
    service: req.service,
    revision: req.revision,
    deployment: req.deployment,
    host: `<private-ip-of-${req.id}>`,
    port,
    state: InstanceState.Running,
    startedAt: new Date(0).toISOString(),
    restarts: 0,
  };
}
