import type {
  DescribeServicesCommandOutput,
  DescribeTasksCommandOutput,
  ECSClient,
  ListServicesCommandOutput,
  ListTasksCommandOutput,
  Service,
  Task,
} from '@aws-sdk/client-ecs';
import type { AwsCaller } from '../../cloud/aws/call.js';
import { ecsSdk } from '../../cloud/aws/sdk.js';

/** The ECS reads the runtime makes, each through the one retry layer and translated. */
export class EcsReads {
  constructor(
    private readonly ecs: ECSClient,
    private readonly aws: AwsCaller,
  ) {}

  async service(cluster: string, name: string): Promise<Service | undefined> {
    return (await this.services(cluster, [name]))[0];
  }

  /** Up to 10 services with their tags. A missing one is a `failures` entry (MISSING), not an error. */
  async services(cluster: string, names: string[]): Promise<Service[]> {
    const res = await this.aws.call<DescribeServicesCommandOutput>(
      this.ecs,
      new (ecsSdk().DescribeServicesCommand)({ cluster, services: names, include: ['TAGS'] }),
      `describe services ${names.join(', ')} in ${cluster}`,
    );
    return res.services ?? [];
  }

  /** Every service ARN of a cluster (paginated). */
  async serviceArns(cluster: string): Promise<string[]> {
    const arns: string[] = [];
    let nextToken: string | undefined;
    do {
      const page = await this.aws.call<ListServicesCommandOutput>(
        this.ecs,
        new (ecsSdk().ListServicesCommand)({ cluster, maxResults: 100, nextToken }),
        `list services of cluster ${cluster}`,
      );
      arns.push(...(page.serviceArns ?? []));
      nextToken = page.nextToken;
    } while (nextToken);
    return arns;
  }

  /** The service's newest task: a RUNNING one first; with `stopped`, a stopped one when none runs. */
  async latestTask(cluster: string, serviceName: string, stopped = false): Promise<Task | undefined> {
    for (const desiredStatus of stopped ? (['RUNNING', 'STOPPED'] as const) : (['RUNNING'] as const)) {
      const list = await this.aws.call<ListTasksCommandOutput>(
        this.ecs,
        new (ecsSdk().ListTasksCommand)({ cluster, serviceName, desiredStatus }),
        `list tasks of ${serviceName}`,
      );
      if (!list.taskArns?.length) continue;
      const res = await this.aws.call<DescribeTasksCommandOutput>(
        this.ecs,
        new (ecsSdk().DescribeTasksCommand)({ cluster, tasks: list.taskArns }),
        `describe tasks of ${serviceName}`,
      );
      const tasks = (res.tasks ?? []).sort(
        (a, b) => (b.createdAt?.getTime() ?? 0) - (a.createdAt?.getTime() ?? 0),
      );
      const t = tasks.find((x) => x.lastStatus === 'RUNNING') ?? tasks[0];
      if (t) return t;
    }
    return undefined;
  }
}
