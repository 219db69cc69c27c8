import { randomInt } from 'node:crypto';
import type { Deployment, Service, Tag, Task, TaskDefinition } from '@aws-sdk/client-ecs';
import { FakeApp } from './app.js';
import { awsError } from './faults.js';

const ACCOUNT = '123456789012';
const REGION = 'us-east-1';

export interface EcsOptions {
  /** DescribeServices calls of a service before its pending tasks run (default 2). */
  stableAfter: number;
  /** Services (by name) whose tasks never start: they stay PENDING, ECS reports it cannot place them. */
  neverStable: (name: string) => boolean;
  /** Services whose tasks stop as soon as they would run (an image that cannot be pulled). */
  failTasks: (name: string) => boolean;
}

/** ECS's circuit breaker threshold for a one-task service (minimum 3 failed tasks). */
const BREAKER = 3;

interface FakeTask {
  task: Task;
  app: FakeApp;
  logs: string[];
  runsAt: number;
  service: string;
}

interface FakeService {
  service: Service;
  token: string | undefined;
  ticks: number;
}

/**
 * ECS as Baton uses it, in memory: task definition families with revisions and tags; services with
 * deployments whose tasks run after `stableAfter` describes (then a real hello app answers on the task's
 * IP); one task per desired count; stopped tasks are not replaced until a new deployment (the window in
 * which real ECS has not replaced a crashed task yet). DeleteService makes a service INACTIVE.
 */
export class FakeEcs {
  readonly families = new Map<string, Array<{ td: TaskDefinition; tags: Tag[] }>>();
  readonly services = new Map<string, FakeService>();
  readonly tasks: FakeTask[] = [];
  private ipSeq = 0;
  /** Loopback /24 of this fake's tasks, random so test files running in parallel never share an address. */
  private readonly net = `127.${10 + randomInt(240)}.${randomInt(250)}`;
  private seq = 0;

  constructor(readonly opts: EcsOptions) {}

  registerTaskDefinition(input: Record<string, unknown>) {
    const family = String(input.family);
    const list = this.families.get(family) ?? [];
    const revision = list.length + 1;
    const { tags, ...rest } = input as { tags?: Tag[] };
    const td: TaskDefinition = {
      ...(rest as TaskDefinition),
      taskDefinitionArn: `arn:aws:ecs:${REGION}:${ACCOUNT}:task-definition/${family}:${revision}`,
      revision,
      status: 'ACTIVE',
    };
    list.push({ td, tags: tags ?? [] });
    this.families.set(family, list);
    return { taskDefinition: td, tags };
  }

  listTaskDefinitions(input: { familyPrefix?: string; status?: string; sort?: string; maxResults?: number }) {
    const arns: Array<{ arn: string; family: string; revision: number }> = [];
    for (const [family, list] of this.families)
      if (family.startsWith(input.familyPrefix ?? ''))
        for (const { td } of list) arns.push({ arn: td.taskDefinitionArn!, family, revision: td.revision! });
    arns.sort((a, b) => a.family.localeCompare(b.family) || a.revision - b.revision);
    if (input.sort === 'DESC') arns.reverse();
    return { taskDefinitionArns: arns.slice(0, input.maxResults ?? 100).map((a) => a.arn) };
  }

  describeTaskDefinition(input: { taskDefinition: string }) {
    for (const list of this.families.values())
      for (const e of list)
        if (e.td.taskDefinitionArn === input.taskDefinition) return { taskDefinition: e.td, tags: e.tags };
    throw awsError('ClientException', 400, 'Unable to describe task definition.');
  }

  private key = (cluster: string, name: string) => `${cluster}/${name.split('/').pop()}`;

  createService(input: Record<string, unknown>) {
    const cluster = String(input.cluster);
    const name = String(input.serviceName);
    const existing = this.services.get(this.key(cluster, name));
    if (existing && existing.service.status !== 'INACTIVE') {
      if (existing.token !== undefined && existing.token === input.clientToken)
        return { service: existing.service };
      throw awsError('InvalidParameterException', 400, 'Creation of service was not idempotent.');
    }
    const td = String(input.taskDefinition);
    const service: Service = {
      serviceArn: `arn:aws:ecs:${REGION}:${ACCOUNT}:service/${cluster}/${name}`,
      serviceName: name,
      clusterArn: `arn:aws:ecs:${REGION}:${ACCOUNT}:cluster/${cluster}`,
      status: 'ACTIVE',
      taskDefinition: td,
      desiredCount: Number(input.desiredCount ?? 0),
      runningCount: 0,
      pendingCount: 0,
      deployments: [],
      events: [],
      tags: (input.tags as Tag[]) ?? [],
      createdAt: new Date(),
    };
    const fs: FakeService = { service, token: input.clientToken as string | undefined, ticks: 0 };
    this.services.set(this.key(cluster, name), fs);
    this.deploy(fs, td);
    return { service };
  }

  /** A new PRIMARY deployment; older ones' tasks stop (minimumHealthyPercent 0). */
  private deploy(fs: FakeService, taskDefinition: string): void {
    const s = fs.service;
    for (const t of this.tasksOf(s.serviceName!))
      if (t.task.desiredStatus === 'RUNNING') this.stopTask(t, 'new deployment', 0);
    const d: Deployment = {
      id: `ecs-svc/${++this.seq}`,
      status: 'PRIMARY',
      taskDefinition,
      desiredCount: s.desiredCount,
      runningCount: 0,
      pendingCount: 0,
      rolloutState: 'IN_PROGRESS',
      createdAt: new Date(),
    };
    s.deployments = [d];
    s.taskDefinition = taskDefinition;
    for (let i = 0; i < (s.desiredCount ?? 0); i++) this.launch(fs, taskDefinition);
  }

  private launch(fs: FakeService, taskDefinition: string): void {
    const s = fs.service;
    const td = this.td(taskDefinition);
    const c = td?.containerDefinitions?.[0];
    const env = Object.fromEntries((c?.environment ?? []).map((e) => [e.name!, e.value!]));
    const ip = `${this.net}.${(this.ipSeq++ % 250) + 1}`;
    const logs: string[] = [];
    const task: Task = {
      taskArn: `arn:aws:ecs:${REGION}:${ACCOUNT}:task/${s.serviceName}/${(++this.seq).toString(16).padStart(32, '0')}`,
      group: `service:${s.serviceName}`,
      taskDefinitionArn: taskDefinition,
      lastStatus: 'PENDING',
      desiredStatus: 'RUNNING',
      createdAt: new Date(Date.now() + this.seq),
      attachments: [
        {
          type: 'ElasticNetworkInterface',
          status: 'ATTACHED',
          details: [{ name: 'privateIPv4Address', value: ip }],
        },
      ],
      containers: [{ name: c?.name, lastStatus: 'PENDING' }],
      tags: s.tags,
    };
    this.tasks.push({
      task,
      app: new FakeApp(c?.image ?? '', env, (l) => logs.push(l)),
      logs,
      runsAt: fs.ticks + this.opts.stableAfter,
      service: s.serviceName!,
    });
  }

  private td(arn: string): TaskDefinition | undefined {
    for (const list of this.families.values())
      for (const e of list) if (e.td.taskDefinitionArn === arn) return e.td;
    return undefined;
  }

  tasksOf(serviceName: string): FakeTask[] {
    return this.tasks.filter((t) => t.service === serviceName);
  }

  private stopTask(t: FakeTask, reason: string, exitCode: number | undefined): void {
    t.task.desiredStatus = 'STOPPED';
    t.task.lastStatus = 'STOPPED';
    t.task.stoppedReason = reason;
    t.task.containers = [{ ...t.task.containers?.[0], lastStatus: 'STOPPED', exitCode }];
    void t.app.stop(reason === 'crash' ? 'killed' : 'stopping on SIGTERM');
  }

  private failTask(fs: FakeService, t: FakeTask): void {
    const s = fs.service;
    t.task.lastStatus = 'STOPPED';
    t.task.desiredStatus = 'STOPPED';
    t.task.stopCode = 'TaskFailedToStart';
    t.task.stoppedReason = `CannotPullContainerError: pull image manifest has been retried 7 time(s): ${t.task.containers?.[0]?.name}: not found`;
    const d = s.deployments?.[0];
    if (!d) return;
    d.failedTasks = (d.failedTasks ?? 0) + 1;
    s.events = [
      {
        id: `${++this.seq}`,
        createdAt: new Date(),
        message: `(service ${s.serviceName}) has started 1 tasks: (task ${t.task.taskArn?.split('/').pop()}). ${t.task.stoppedReason}`,
      },
      ...(s.events ?? []),
    ];
    if (d.failedTasks >= BREAKER) {
      d.rolloutState = 'FAILED';
      d.rolloutStateReason = 'ECS deployment circuit breaker: tasks failed to start.';
    } else this.launch(fs, d.taskDefinition!);
  }

  /** Kills the running task of a service (exit 137); it is not replaced until a new deployment. */
  crash(serviceName: string): void {
    for (const t of this.tasksOf(serviceName))
      if (t.task.lastStatus === 'RUNNING') this.stopTask(t, 'crash', 137);
  }

  /** One DescribeServices tick: pending tasks start, counts and rollout state follow. */
  async advance(fs: FakeService): Promise<void> {
    fs.ticks++;
    const s = fs.service;
    if (s.status !== 'ACTIVE') return;
    const name = s.serviceName!;
    for (const t of this.tasksOf(name)) {
      if (t.task.lastStatus !== 'PENDING' || t.task.desiredStatus !== 'RUNNING') continue;
      if (this.opts.neverStable(name)) {
        s.events = [
          {
            id: `${++this.seq}`,
            createdAt: new Date(),
            message: `(service ${name}) was unable to place a task because no container instance met all of its requirements.`,
          },
          ...(s.events ?? []),
        ].slice(0, 10);
        continue;
      }
      if (fs.ticks < t.runsAt) continue;
      if (this.opts.failTasks(name)) {
        this.failTask(fs, t);
        continue;
      }
      await t.app.start(t.task.attachments![0]!.details![0]!.value!);
      t.task.lastStatus = 'RUNNING';
      t.task.startedAt = new Date();
      t.task.containers = [{ ...t.task.containers?.[0], lastStatus: 'RUNNING' }];
    }
    const live = this.tasksOf(name).filter((t) => t.task.desiredStatus === 'RUNNING');
    s.runningCount = live.filter((t) => t.task.lastStatus === 'RUNNING').length;
    s.pendingCount = live.filter((t) => t.task.lastStatus === 'PENDING').length;
    const d = s.deployments?.[0];
    if (d) {
      d.runningCount = s.runningCount;
      d.pendingCount = s.pendingCount;
      d.desiredCount = s.desiredCount;
      if (d.rolloutState !== 'FAILED' && s.runningCount === s.desiredCount && s.pendingCount === 0)
        d.rolloutState = 'COMPLETED';
    }
  }

  async describeServices(input: { cluster: string; services: string[] }) {
    const services: Service[] = [];
    const failures: Array<{ arn: string; reason: string }> = [];
    for (const n of input.services) {
      const fs = this.services.get(this.key(input.cluster, n));
      if (!fs) {
        failures.push({ arn: n, reason: 'MISSING' });
        continue;
      }
      await this.advance(fs);
      services.push(structuredClone(fs.service));
    }
    return { services, failures };
  }

  updateService(input: {
    cluster: string;
    service: string;
    desiredCount?: number;
    forceNewDeployment?: boolean;
  }) {
    const fs = this.services.get(this.key(input.cluster, input.service));
    if (fs?.service.status !== 'ACTIVE')
      throw awsError('ServiceNotActiveException', 400, 'Service was not ACTIVE.');
    const s = fs.service;
    if (input.desiredCount !== undefined) s.desiredCount = input.desiredCount;
    if (input.forceNewDeployment) this.deploy(fs, s.taskDefinition!);
    else {
      const live = this.tasksOf(s.serviceName!).filter((t) => t.task.desiredStatus === 'RUNNING');
      for (const t of live.slice(s.desiredCount ?? 0)) this.stopTask(t, 'scaled in', 0);
      for (let i = live.length; i < (s.desiredCount ?? 0); i++) this.launch(fs, s.taskDefinition!);
    }
    return { service: structuredClone(s) };
  }

  deleteService(input: { cluster: string; service: string }) {
    const fs = this.services.get(this.key(input.cluster, input.service));
    if (fs?.service.status !== 'ACTIVE')
      throw awsError('ServiceNotFoundException', 400, 'Service not found.');
    for (const t of this.tasksOf(fs.service.serviceName!))
      if (t.task.desiredStatus === 'RUNNING') this.stopTask(t, 'deleted', 0);
    fs.service.status = 'INACTIVE';
    fs.service.desiredCount = 0;
    fs.service.runningCount = 0;
    return { service: structuredClone(fs.service) };
  }

  listServices(input: { cluster: string }) {
    const serviceArns = [...this.services.values()]
      .filter(
        (fs) => fs.service.clusterArn?.endsWith(`/${input.cluster}`) && fs.service.status !== 'INACTIVE',
      )
      .map((fs) => fs.service.serviceArn!);
    return { serviceArns };
  }

  listTasks(input: { serviceName?: string; desiredStatus?: string }) {
    const taskArns = this.tasks
      .filter(
        (t) =>
          (!input.serviceName || t.service === input.serviceName) &&
          t.task.desiredStatus === (input.desiredStatus ?? 'RUNNING'),
      )
      .map((t) => t.task.taskArn!);
    return { taskArns };
  }

  describeTasks(input: { tasks: string[] }) {
    return {
      tasks: this.tasks
        .filter((t) => input.tasks.includes(t.task.taskArn!))
        .map((t) => structuredClone(t.task)),
    };
  }

  tagResource(input: { resourceArn: string; tags: Tag[] }) {
    const fs = [...this.services.values()].find((x) => x.service.serviceArn === input.resourceArn);
    if (!fs) throw awsError('ResourceNotFoundException', 400, 'resource not found');
    const m = new Map((fs.service.tags ?? []).map((t) => [t.key!, t.value]));
    for (const t of input.tags) m.set(t.key!, t.value);
    fs.service.tags = [...m].map(([key, value]) => ({ key, value }));
    return {};
  }

  /** Services that are ACTIVE, by name. */
  active(): Service[] {
    return [...this.services.values()].filter((x) => x.service.status === 'ACTIVE').map((x) => x.service);
  }

  async close(): Promise<void> {
    await Promise.all(this.tasks.map((t) => t.app.stop('fake closed')));
  }
}
