import type { ContainerInspectInfo } from 'dockerode';
import { type Instance, InstanceState } from '../../core/types.js';
import type { StartRequest } from '../runtime.js';

/**
 * Labels on every container Baton creates: `list` is a label query, so containers outlive the control
 * plane and are adopted by construction, and `purge` never touches a container without them.
 */
export const LABEL = {
  managedBy: 'baton.managed-by',
  service: 'baton.service',
  revision: 'baton.revision',
  deployment: 'baton.deployment',
  instance: 'baton.instance',
  /** Which control plane (its data dir) created it: two Batons on one Docker host never mix. */
  owner: 'baton.owner',
  /** The container port the app listens on, to read its published host port back. */
  port: 'baton.port',
} as const;

export const MANAGED_BY = 'baton';

export function labelsFor(
  req: StartRequest,
  containerPort: number,
  owner: string | undefined,
): Record<string, string> {
  return {
    [LABEL.managedBy]: MANAGED_BY,
    [LABEL.service]: req.service,
    [LABEL.revision]: String(req.revision),
    [LABEL.deployment]: req.deployment,
    [LABEL.instance]: req.id,
    [LABEL.port]: String(containerPort),
    ...(owner ? { [LABEL.owner]: owner } : {}),
  };
}

/** Label filters of a list query: Baton's containers, of this owner, optionally of one service. */
export function labelFilters(owner: string | undefined, service?: string): string[] {
  return [
    `${LABEL.managedBy}=${MANAGED_BY}`,
    ...(owner ? [`${LABEL.owner}=${owner}`] : []),
    ...(service ? [`${LABEL.service}=${service}`] : []),
  ];
}

/** What the driver remembers about an instance that Docker does not say (see `marks.ts`). */
export interface Mark {
  stopped?: boolean | undefined;
  restarts: number;
  /** Last published host port, shown while the container is not running. */
  port?: number | undefined;
}

/** The host port Docker published for `containerPort` (the container port itself on the host network). */
export function publishedPort(info: ContainerInspectInfo, containerPort: number): number | undefined {
  if (info.HostConfig?.NetworkMode === 'host') return containerPort;
  const bindings = info.NetworkSettings?.Ports?.[`${containerPort}/tcp`];
  const hostPort = bindings?.find((b) => b.HostIp === '127.0.0.1' || b.HostIp === '')?.HostPort;
  return hostPort ? Number(hostPort) : undefined;
}

/** A container as an Instance: running, exited (with its code) or stopped (by Baton). */
export function instanceOf(info: ContainerInspectInfo, mark: Mark): Instance {
  const labels = info.Config?.Labels ?? {};
  const containerPort = Number(labels[LABEL.port] ?? 0);
  const s = info.State;
  const running = s.Running || s.Restarting || s.Paused;
  const state = running ? InstanceState.Running : mark.stopped ? InstanceState.Stopped : InstanceState.Exited;
  const port = running ? (publishedPort(info, containerPort) ?? mark.port ?? 0) : (mark.port ?? 0);
  const exitCode = running || s.Status === 'created' ? null : s.ExitCode;
  return {
    id: labels[LABEL.instance] ?? info.Name.replace(/^\//, ''),
    service: labels[LABEL.service] ?? '',
    revision: Number(labels[LABEL.revision] ?? 0),
    deployment: labels[LABEL.deployment] ?? '',
    host: '127.0.0.1',
    port,
    state,
    pid: running && s.Pid > 0 ? s.Pid : undefined,
    exitCode,
    // Docker reports a signal death as 128+n; the code says it.
    signal: null,
    startedAt: s.StartedAt && !s.StartedAt.startsWith('0001') ? s.StartedAt : info.Created,
    restarts: Math.max(mark.restarts, info.RestartCount ?? 0),
    ...healthOf(s.Health?.Status),
  };
}

/** The image's HEALTHCHECK verdict (absent when the image has none or it is ignored). */
function healthOf(status: string | undefined): Pick<Instance, 'health'> {
  return status === 'starting' || status === 'healthy' || status === 'unhealthy' ? { health: status } : {};
}
