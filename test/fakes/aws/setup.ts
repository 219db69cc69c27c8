import type { LogReader } from '../../../src/runtime/ecs/ecs-runtime.js';
import type { FakeAws } from './fake-aws.js';

export const CLUSTER = 'prod';
/** The app's port in every fake task (each task has its own loopback address). */
export const APP_PORT = 18_080;

/** A `runtime: ecs` service's fields (what `parseEcsSpec` reads). */
export function ecsSpec(env: Record<string, string> = {}, over: Record<string, unknown> = {}) {
  return {
    runtime: 'ecs',
    port: APP_PORT,
    env,
    secrets: { DB_PASSWORD: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:db-password-AbCdEf' },
    stopTimeout: 5000,
    ecs: {
      cluster: CLUSTER,
      launchType: 'FARGATE',
      container: { image: '123456789012.dkr.ecr.us-east-1.amazonaws.com/hello:1.0.0' },
      taskDefinition: { cpu: '256', memory: '512', requiresCompatibilities: ['FARGATE'] },
      network: { subnets: ['subnet-0a1b2c3d'], securityGroups: ['sg-0a1b2c3d'] },
    },
    ...over,
  };
}

/** Log lines of a fake task, with tail and follow (polling every 20 ms until aborted). */
export function fakeLogs(fake: FakeAws): LogReader {
  return async function* (ref, opts) {
    const task = fake.ecs.tasks.find((t) => t.task.taskArn === ref.taskArn);
    if (!task) return;
    const first = task.logs.length;
    const start = opts.tail === undefined ? 0 : Math.max(0, first - opts.tail);
    yield* task.logs.slice(start, first);
    if (!opts.follow) return;
    let seen = first;
    while (!opts.signal?.aborted) {
      await new Promise((r) => setTimeout(r, 20));
      yield* task.logs.slice(seen);
      seen = task.logs.length;
    }
  };
}
