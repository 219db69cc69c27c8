import type { Service, Task } from '@aws-sdk/client-ecs';
import { type Instance, InstanceState } from '../../core/types.js';
import { fromTags, TAG } from './tags.js';

/**
 * An instance's ECS service (and its task) as a Baton Instance. ACTIVE with a RUNNING task → running
 * (address = the task's private IP and the app's port); desiredCount 0 with Baton's `stopped` tag →
 * stopped; a task wanted but none running (it crashed; ECS has not replaced it yet) → exited.
 * The task's container health check, when the task definition has one, is the runtime's health verdict.
 */
export function instanceOf(s: Service, task: Task | undefined, ip: string | undefined): Instance {
  const tags = fromTags(s.tags);
  const running = task?.lastStatus === 'RUNNING' && (s.desiredCount ?? 0) > 0;
  const stopped = !running && tags[TAG.stopped] === 'true';
  const health = task?.healthStatus;
  return {
    id: tags[TAG.instance] ?? s.serviceName ?? '',
    service: tags[TAG.service] ?? '',
    revision: Number(tags[TAG.revision] ?? 0),
    deployment: tags[TAG.deployment] ?? '',
    host: ip ?? '',
    port: Number(tags[TAG.port] ?? 0),
    state: running ? InstanceState.Running : stopped ? InstanceState.Stopped : InstanceState.Exited,
    exitCode: running || stopped ? null : (task?.containers?.[0]?.exitCode ?? null),
    signal: null,
    startedAt: (task?.startedAt ?? s.createdAt ?? new Date(0)).toISOString(),
    restarts: Number(tags[TAG.restarts] ?? 0),
    ...(running && health === 'HEALTHY' ? { health: 'healthy' as const } : {}),
    ...(running && health === 'UNHEALTHY' ? { health: 'unhealthy' as const } : {}),
  };
}
