import type {
  DescribeTaskDefinitionCommandOutput,
  ECSClient,
  ListTaskDefinitionsCommandOutput,
  RegisterTaskDefinitionCommandInput,
  RegisterTaskDefinitionCommandOutput,
} from '@aws-sdk/client-ecs';
import type { AwsCaller } from '../../cloud/aws/call.js';
import { ecsSdk } from '../../cloud/aws/sdk.js';
import { DriverError } from '../../core/errors.js';
import type { EcsServiceSpec } from './spec.js';
import { fromTags, MANAGED_BY, specHash, TAG, toTags } from './tags.js';

/** Which revision of which Baton service a task definition is for. */
export interface TdKey {
  service: string;
  revision: number;
  deployment: string;
}

export const containerName = (spec: EcsServiceSpec, service: string): string =>
  spec.ecs.container.name ?? service;

/**
 * The RegisterTaskDefinition input of a revision: the spec's fields as written, one essential container
 * with the port mapping, plain `env` (plus PORT, BATON_SERVICE, BATON_REVISION) as `environment`, and
 * `secrets` as `{name, valueFrom}` references ECS resolves at start — never the values. Tagged, with a
 * hash of everything else, so a repeated step recognises its own registration.
 */
export function taskDefinitionInput(
  key: TdKey,
  spec: EcsServiceSpec,
  owner: string | undefined,
): RegisterTaskDefinitionCommandInput {
  const { family, ...td } = spec.ecs.taskDefinition;
  const c = spec.ecs.container;
  const env = {
    ...spec.env,
    PORT: String(spec.port),
    BATON_SERVICE: key.service,
    BATON_REVISION: String(key.revision),
  };
  // The container's own `environment` entries (ECS's field, written in the spec) are kept and win, as
  // an OCI container's own environmentVariables do.
  const own = Array.isArray(c.environment)
    ? (c.environment as Array<{ name?: unknown; value?: unknown }>)
    : [];
  const written = new Set(own.map((e) => e.name));
  const container = {
    ...c,
    name: containerName(spec, key.service),
    essential: true,
    portMappings: [{ containerPort: spec.port, protocol: 'tcp' as const }],
    environment: [
      ...Object.entries(env)
        .filter(([name]) => !written.has(name))
        .map(([name, value]) => ({ name, value })),
      ...own,
    ],
    secrets: Object.entries(spec.secrets).map(([name, valueFrom]) => ({ name, valueFrom })),
    // ECS sends SIGTERM, then SIGKILL after this (at most 120 s on ECS).
    stopTimeout: Math.min(120, Math.max(2, Math.ceil(spec.stopTimeout / 1000))),
  };
  const body = { ...td, family: family ?? `baton-${key.service}`, containerDefinitions: [container] };
  const tags = {
    [TAG.managedBy]: MANAGED_BY,
    [TAG.service]: key.service,
    [TAG.revision]: String(key.revision),
    [TAG.deployment]: key.deployment,
    [TAG.spec]: specHash(body),
    ...(owner ? { [TAG.owner]: owner } : {}),
  };
  return { ...(body as RegisterTaskDefinitionCommandInput), tags: toTags(tags) };
}

/** How many of a family's newest ACTIVE revisions are searched for an earlier registration. */
const LOOK_BACK = 10;

/**
 * Registers the task definition of a revision once. RegisterTaskDefinition has no idempotency token, so
 * before registering it looks for a revision of the family carrying the same Baton tags (revision, spec
 * hash, owner): a repeated step, a resumed deploy, or a register whose answer was lost (a 5xx after
 * it ran) finds it instead of making another. The call itself is retried only when throttled
 * (`unsafe`), and the whole look-then-register is repeated on other transient errors.
 */
export class TaskDefinitions {
  /** Registration per revision and spec, shared by the instances of a revision starting at once. */
  private readonly known = new Map<string, Promise<string>>();

  constructor(
    private readonly ecs: ECSClient,
    private readonly aws: AwsCaller,
    private readonly owner: string | undefined,
  ) {}

  ensure(key: TdKey, spec: EcsServiceSpec): Promise<string> {
    const input = taskDefinitionInput(key, spec, this.owner);
    const hash = fromTags(input.tags)[TAG.spec]!;
    const cacheKey = `${key.service}|${key.revision}|${hash}`;
    let p = this.known.get(cacheKey);
    if (!p) {
      p = this.findOrRegister(key, input, hash);
      this.known.set(cacheKey, p);
      // A failure is not remembered: the next start looks again.
      p.catch(() => this.known.delete(cacheKey));
    }
    return p;
  }

  private async findOrRegister(
    key: TdKey,
    input: RegisterTaskDefinitionCommandInput,
    hash: string,
  ): Promise<string> {
    for (let attempt = 1; ; attempt++) {
      const found = await this.find(input.family!, key, hash);
      if (found) return found;
      try {
        const res = await this.aws.write<RegisterTaskDefinitionCommandOutput>(
          this.ecs,
          new (ecsSdk().RegisterTaskDefinitionCommand)(input),
          `register task definition ${input.family} for ${key.service} revision ${key.revision}`,
          { idempotence: 'unsafe' },
        );
        // Dry run: the revision ECS would give it is not known yet.
        if (!res) return `<task definition ${input.family} for ${key.service} revision ${key.revision}>`;
        const arn = res.taskDefinition?.taskDefinitionArn;
        if (!arn) throw new DriverError('ecs', 'RegisterTaskDefinition answered without an ARN');
        return arn;
      } catch (err) {
        const status = (err as { cause?: { $metadata?: { httpStatusCode?: number } } }).cause?.$metadata
          ?.httpStatusCode;
        if (attempt >= 5 || status === undefined || status < 500) throw err;
      }
    }
  }

  private async find(family: string, key: TdKey, hash: string): Promise<string | undefined> {
    const list = await this.aws.call<ListTaskDefinitionsCommandOutput>(
      this.ecs,
      new (ecsSdk().ListTaskDefinitionsCommand)({
        familyPrefix: family,
        status: 'ACTIVE',
        sort: 'DESC',
        maxResults: LOOK_BACK,
      }),
      `list task definitions of ${family}`,
    );
    for (const arn of list.taskDefinitionArns ?? []) {
      if (!arn.includes(`/${family}:`)) continue; // familyPrefix also matches longer families
      const d = await this.aws.call<DescribeTaskDefinitionCommandOutput>(
        this.ecs,
        new (ecsSdk().DescribeTaskDefinitionCommand)({ taskDefinition: arn, include: ['TAGS'] }),
        `describe task definition ${arn}`,
      );
      const t = fromTags(d.tags);
      if (
        t[TAG.managedBy] === MANAGED_BY &&
        t[TAG.service] === key.service &&
        t[TAG.revision] === String(key.revision) &&
        t[TAG.spec] === hash &&
        (this.owner === undefined || t[TAG.owner] === this.owner)
      )
        return arn;
    }
    return undefined;
  }
}
