import type { CreateServiceCommandInput, Service, Task } from '@aws-sdk/client-ecs';
import type { StartRequest } from '../runtime.js';
import type { EcsServiceSpec } from './spec.js';
import { clientTokenFor, MANAGED_BY, TAG, toTags } from './tags.js';
import { containerName } from './task-definition.js';

/**
 * CreateService for one Baton instance: an ECS service of one task, named after the instance, with no
 * load balancer (the `alb` router registers the task's IP itself, so traffic moves only when Baton's
 * strategy says). minimumHealthyPercent 0 / maximumPercent 100: a restart replaces the one task. The
 * circuit breaker (without ECS's own rollback: Baton's engine rolls back) ends a deployment whose tasks
 * keep failing early, with ECS's reason. Tags propagate to the task.
 */
export function createServiceInput(
  req: StartRequest,
  spec: EcsServiceSpec,
  taskDefinition: string,
  owner: string | undefined,
): CreateServiceCommandInput {
  const e = spec.ecs;
  return {
    cluster: e.cluster,
    serviceName: req.id,
    taskDefinition,
    desiredCount: 1,
    ...(e.launchType ? { launchType: e.launchType } : {}),
    ...(e.capacityProviderStrategy
      ? {
          capacityProviderStrategy:
            e.capacityProviderStrategy as CreateServiceCommandInput['capacityProviderStrategy'],
        }
      : {}),
    ...(e.platformVersion ? { platformVersion: e.platformVersion } : {}),
    networkConfiguration: {
      awsvpcConfiguration: {
        subnets: e.network.subnets,
        securityGroups: e.network.securityGroups,
        assignPublicIp: e.network.assignPublicIp,
      },
    },
    deploymentController: { type: 'ECS' },
    deploymentConfiguration: {
      minimumHealthyPercent: 0,
      maximumPercent: 100,
      deploymentCircuitBreaker: { enable: true, rollback: false },
    },
    propagateTags: 'SERVICE',
    enableECSManagedTags: true,
    tags: toTags(serviceTags(req, spec, owner)),
    clientToken: clientTokenFor(owner, req.id),
  };
}

export function serviceTags(
  req: StartRequest,
  spec: EcsServiceSpec,
  owner: string | undefined,
): Record<string, string> {
  return {
    [TAG.managedBy]: MANAGED_BY,
    [TAG.service]: req.service,
    [TAG.revision]: String(req.revision),
    [TAG.deployment]: req.deployment,
    [TAG.instance]: req.id,
    [TAG.port]: String(spec.port),
    [TAG.container]: containerName(spec, req.service),
    ...(owner ? { [TAG.owner]: owner } : {}),
  };
}

/**
 * The seed's "wait for stale deployments", made exact: one deployment left, of the expected task
 * definition, its rollout COMPLETED (when ECS reports one), and running = desired with none pending.
 */
export function isStable(s: Service, taskDefinition?: string): boolean {
  const deps = s.deployments ?? [];
  const d = deps[0];
  if (deps.length !== 1 || !d) return false;
  if (taskDefinition !== undefined && d.taskDefinition !== taskDefinition) return false;
  if (d.rolloutState !== undefined && d.rolloutState !== 'COMPLETED') return false;
  const desired = s.desiredCount ?? 0;
  return (
    (s.runningCount ?? 0) === desired && (s.pendingCount ?? 0) === 0 && (d.runningCount ?? 0) === desired
  );
}

/** Why a service is not stable, in ECS's words: deployments, counts, rollout reason, latest events. */
export function whyNotStable(s: Service): string {
  const deps = (s.deployments ?? [])
    .map(
      (d) =>
        `${d.status} ${d.taskDefinition?.split('/').pop()} ${d.rolloutState ?? ''} running ${d.runningCount}/${d.desiredCount}${d.failedTasks ? `, ${d.failedTasks} failed task(s)` : ''}${d.rolloutStateReason ? ` (${d.rolloutStateReason})` : ''}`,
    )
    .join('; ');
  const events = (s.events ?? [])
    .slice(0, 3)
    .map((e) => e.message)
    .filter(Boolean)
    .join(' | ');
  return `${s.deployments?.length ?? 0} deployment(s): ${deps}; running ${s.runningCount ?? 0} of desired ${s.desiredCount ?? 0}${events ? `; latest events: ${events}` : ''}`;
}

/** The private IPv4 of an awsvpc task: its ENI attachment, else its first container's interface. */
export function taskIp(t: Task): string | undefined {
  for (const a of t.attachments ?? [])
    if (a.type === 'ElasticNetworkInterface')
      for (const d of a.details ?? []) if (d.name === 'privateIPv4Address' && d.value) return d.value;
  return t.containers?.[0]?.networkInterfaces?.[0]?.privateIpv4Address;
}
