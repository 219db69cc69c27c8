import type { CreateServiceCommandOutput, Service } from '@aws-sdk/client-ecs';
import type { Logger } from 'pino';
import type { AwsCaller } from '../../cloud/aws/call.js';
import type { AwsClients } from '../../cloud/aws/clients.js';
import { ecsSdk } from '../../cloud/aws/sdk.js';
import type { CallLog } from '../../cloud/planned.js';
import { pollUntil } from '../../cloud/poll.js';
import { DriverError, NotFoundError } from '../../core/errors.js';
import { KeyedQueue } from '../../core/keyed-queue.js';
import { type Instance, InstanceState } from '../../core/types.js';
import type { LogOptions, Runtime, StartRequest } from '../runtime.js';
import { EcsReads } from './api.js';
import { createServiceInput, isStable, taskIp, whyNotStable } from './service.js';
import { parseEcsSpec } from './spec.js';
import { fromTags, isOurs, TAG, toTags } from './tags.js';
import { TaskDefinitions } from './task-definition.js';
import { instanceOf } from './view.js';

/** Where an instance's output is: its task and container (logs live in CloudWatch Logs). */
export interface TaskLogRef {
  id: string;
  cluster: string;
  taskArn: string;
  container: string;
}
export type LogReader = (ref: TaskLogRef, opts: LogOptions) => AsyncIterable<string>;

export interface EcsRuntimeOptions {
  clients: AwsClients;
  /** Clusters `list` searches besides those `start` learns from the specs. */
  clusters?: string[] | undefined;
  /** Tag value scoping every resource to one control plane; also filters `list`. */
  owner?: string | undefined;
  /** Between two DescribeServices while waiting (default 5 s, as the seed's `sleep 5`). */
  pollIntervalMs?: number | undefined;
  /** Longest wait for a service to become stable (default 10 min: image pulls, capacity). */
  startTimeoutMs?: number | undefined;
  /** Reads a task's log lines (CloudWatch Logs); absent: `logs` says where they are. */
  logs?: LogReader | undefined;
  logger?: Logger | undefined;
  /** Dry run (`baton plan`): services and task definitions are looked up for real, writes recorded here. */
  dryRun?: CallLog | undefined;
}

const D = 'ecs';

/**
 * Runs each Baton instance as an ECS service of one task (see README.md for why this mapping): the
 * revision's task definition is registered once (tagged, found again by its tags), the instance's service
 * is created with an idempotency token derived from the instance id, and `start` returns once the
 * service is stable — one deployment, running = desired — with the task's private IP as the address.
 */
export class EcsRuntime implements Runtime {
  readonly kind = 'ecs';
  private readonly ecs;
  private readonly aws: AwsCaller;
  private readonly tds: TaskDefinitions;
  private readonly reads: EcsReads;
  private readonly clusters: Set<string>;
  /** Instance id → cluster, learned on start and list. */
  private readonly where = new Map<string, string>();
  private readonly queue = new KeyedQueue();
  private readonly pollMs: number;
  private readonly startTimeoutMs: number;

  constructor(private readonly opts: EcsRuntimeOptions) {
    this.ecs = opts.clients.ecs;
    this.aws = opts.clients.caller(D, opts.dryRun);
    this.tds = new TaskDefinitions(this.ecs, this.aws, opts.owner);
    this.reads = new EcsReads(this.ecs, this.aws);
    this.clusters = new Set(opts.clusters ?? []);
    this.pollMs = opts.pollIntervalMs ?? 5000;
    this.startTimeoutMs = opts.startTimeoutMs ?? 600_000;
  }

  async start(req: StartRequest): Promise<Instance> {
    const spec = parseEcsSpec(req.spec);
    const cluster = spec.ecs.cluster;
    return this.queue.run(req.id, async () => {
      this.clusters.add(cluster);
      this.where.set(req.id, cluster);
      let s = await this.reads.service(cluster, req.id);
      if (s?.status !== 'ACTIVE') {
        const td = await this.tds.ensure(req, spec);
        const res = await this.aws.write<CreateServiceCommandOutput>(
          this.ecs,
          new (ecsSdk().CreateServiceCommand)(createServiceInput(req, spec, td, this.opts.owner)),
          `create service ${req.id} in cluster ${cluster}`,
          { awaits: this.stableText() },
        );
        if (!res) return plannedInstance(req, spec.port);
        s = res.service;
        this.opts.logger?.info({ id: req.id, cluster, taskDefinition: td }, 'ecs service created');
      } else if (!isOurs(fromTags(s.tags), this.opts.owner)) {
        throw new DriverError(D, `service ${req.id} in cluster ${cluster} exists and is not Baton's`);
      } else if ((s.desiredCount ?? 0) === 0) {
        // Stopped by Baton earlier: the same instance runs again.
        await this.tag(cluster, s, { [TAG.stopped]: 'false' });
        await this.aws.write(
          this.ecs,
          new (ecsSdk().UpdateServiceCommand)({ cluster, service: req.id, desiredCount: 1 }),
          `start service ${req.id} again`,
          { awaits: this.stableText() },
        );
        if (this.aws.dry) return plannedInstance(req, spec.port);
      }
      return this.waitStable(cluster, req.id, s?.taskDefinition);
    });
  }

  async list(service?: string): Promise<Instance[]> {
    const out: Instance[] = [];
    for (const cluster of this.clusters) {
      const arns = await this.reads.serviceArns(cluster);
      for (let i = 0; i < arns.length; i += 10) {
        for (const s of await this.reads.services(cluster, arns.slice(i, i + 10))) {
          if (s.status !== 'ACTIVE' || !isOurs(fromTags(s.tags), this.opts.owner, service)) continue;
          const inst = await this.view(cluster, s);
          this.where.set(inst.id, cluster);
          out.push(inst);
        }
      }
    }
    return out.sort((a, b) => a.id.localeCompare(b.id));
  }

  async get(id: string): Promise<Instance | undefined> {
    const found = await this.find(id);
    return found ? this.view(found.cluster, found.service) : undefined;
  }

  /** A new deployment of the same task definition: ECS replaces the task (a new private IP). */
  restart(id: string): Promise<Instance> {
    return this.queue.run(id, async () => {
      const found = await this.find(id);
      if (!found) throw new NotFoundError(`instance ${id}`);
      const { cluster, service: s } = found;
      const tags = fromTags(s.tags);
      await this.tag(cluster, s, {
        [TAG.stopped]: 'false',
        [TAG.restarts]: String(Number(tags[TAG.restarts] ?? 0) + 1),
      });
      await this.aws.write(
        this.ecs,
        new (ecsSdk().UpdateServiceCommand)({
          cluster,
          service: id,
          desiredCount: 1,
          forceNewDeployment: true,
        }),
        `restart service ${id}`,
        { awaits: this.stableText() },
      );
      if (this.aws.dry) return this.view(cluster, s);
      return this.waitStable(cluster, id, s.taskDefinition);
    });
  }

  /** Marks it stopped, then desiredCount 0: ECS sends SIGTERM and kills after the container's stopTimeout. */
  stop(id: string, timeoutMs: number): Promise<void> {
    return this.queue.run(id, async () => {
      const found = await this.find(id);
      if (!found) return;
      const { cluster, service: s } = found;
      if (fromTags(s.tags)[TAG.stopped] !== 'true') await this.tag(cluster, s, { [TAG.stopped]: 'true' });
      if ((s.desiredCount ?? 0) > 0)
        await this.aws.write(
          this.ecs,
          new (ecsSdk().UpdateServiceCommand)({ cluster, service: id, desiredCount: 0 }),
          `stop service ${id}`,
          {
            awaits: 'DescribeServices until no task runs (SIGTERM, SIGKILL after the container stopTimeout)',
          },
        );
      if (this.aws.dry) return;
      await this.poll(
        () => this.reads.service(cluster, id),
        (x) => x?.status !== 'ACTIVE' || ((x.runningCount ?? 0) === 0 && (x.pendingCount ?? 0) === 0),
        Math.max(timeoutMs + 60_000, 120_000),
        (x) => `service ${id} still has ${x?.runningCount} running task(s) after stopping`,
      );
    });
  }

  /** Deletes the instance's service (ECS keeps it DRAINING, then INACTIVE: both count as gone). */
  remove(id: string): Promise<void> {
    return this.queue.run(id, async () => {
      const found = await this.find(id);
      if (found) {
        const { cluster, service: s } = found;
        // In a dry run the stop before was only recorded: the service still runs.
        if ((s.runningCount ?? 0) > 0 && fromTags(s.tags)[TAG.stopped] !== 'true' && !this.aws.dry)
          throw new DriverError(D, `instance ${id} is running; stop it before removing it`);
        await this.aws
          .write(
            this.ecs,
            new (ecsSdk().DeleteServiceCommand)({ cluster, service: id, force: true }),
            `delete service ${id}`,
          )
          .catch((err) => {
            // A repeat after a lost answer: the service is already being deleted.
            if (!/ServiceNotFound|ServiceNotActive/.test(String((err as Error).message))) throw err;
          });
      }
      this.where.delete(id);
    });
  }

  async *logs(id: string, opts: LogOptions = {}): AsyncIterable<string> {
    const found = await this.find(id);
    if (!found) throw new NotFoundError(`instance ${id}`);
    const task = await this.reads.latestTask(found.cluster, id, true);
    const container = fromTags(found.service.tags)[TAG.container] ?? id;
    if (!task?.taskArn) return;
    if (!this.opts.logs)
      throw new DriverError(
        D,
        `logs of ${id} are in CloudWatch Logs (the container's logConfiguration, task ${task.taskArn}); this driver has no log reader configured`,
      );
    yield* this.opts.logs({ id, cluster: found.cluster, taskArn: task.taskArn, container }, opts);
  }

  async close(): Promise<void> {
    await this.queue.idle();
  }

  private async find(id: string): Promise<{ cluster: string; service: Service } | undefined> {
    const known = this.where.get(id);
    for (const cluster of known ? [known, ...this.clusters] : this.clusters) {
      const s = await this.reads.service(cluster, id);
      if (s && s.status === 'ACTIVE' && isOurs(fromTags(s.tags), this.opts.owner)) {
        this.where.set(id, cluster);
        return { cluster, service: s };
      }
    }
    return undefined;
  }

  private async view(cluster: string, s: Service): Promise<Instance> {
    const task =
      (s.desiredCount ?? 0) > 0 ? await this.reads.latestTask(cluster, s.serviceName!, true) : undefined;
    return instanceOf(s, task, task ? taskIp(task) : undefined);
  }

  /** Polls DescribeServices until stable; a FAILED rollout (the circuit breaker) or the timeout aborts. */
  private async waitStable(
    cluster: string,
    id: string,
    taskDefinition: string | undefined,
  ): Promise<Instance> {
    const s = await this.poll(
      async () => {
        const x = await this.reads.service(cluster, id);
        if (x?.status !== 'ACTIVE') throw new DriverError(D, `service ${id} disappeared while starting`);
        if (x.deployments?.some((d) => d.status === 'PRIMARY' && d.rolloutState === 'FAILED'))
          throw new DriverError(D, `service ${id} failed to start: ${whyNotStable(x)}`);
        return x;
      },
      (x) => isStable(x, taskDefinition),
      this.startTimeoutMs,
      (x) => `service ${id} not stable after ${this.startTimeoutMs} ms: ${x ? whyNotStable(x) : 'not found'}`,
    );
    return this.view(cluster, s!);
  }

  private stableText(): string {
    return `DescribeServices until stable: one deployment, running = desired (at most ${this.startTimeoutMs} ms)`;
  }

  private poll<T>(read: () => Promise<T>, done: (v: T) => boolean, timeoutMs: number, why: (v: T) => string) {
    return pollUntil(read, done, {
      clock: this.aws.clock,
      intervalMs: this.pollMs,
      timeoutMs,
      onTimeout: (v) => new DriverError(D, why(v)),
    });
  }

  private async tag(cluster: string, s: Service, tags: Record<string, string>): Promise<void> {
    await this.aws.write(
      this.ecs,
      new (ecsSdk().TagResourceCommand)({ resourceArn: s.serviceArn!, tags: toTags(tags) }),
      `tag service ${s.serviceName} in ${cluster}`,
    );
    s.tags = toTags({ ...fromTags(s.tags), ...tags });
  }
}

/** What a dry run's `start` answers: the instance it would create, its address a placeholder. */
function plannedInstance(req: StartRequest, port: number): Instance {
  return {
    id: req.id,
    service: req.service,
    revision: req.revision,
    deployment: req.deployment,
    host: `<private-ip-of-${req.id}>`,
    port,
    state: InstanceState.Running,
    exitCode: null,
    signal: null,
    startedAt: new Date(0).toISOString(),
    restarts: 0,
  };
}
