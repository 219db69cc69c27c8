import { VirtualClock } from '../../src/cloud/clock.js';
import { EcsRuntime } from '../../src/runtime/ecs/ecs-runtime.js';
import type { ServiceSpec } from '../../src/spec/schema.js';
import { FakeAws } from '../fakes/aws/fake-aws.js';
import { CLUSTER, ecsSpec, fakeLogs } from '../fakes/aws/setup.js';
import { runRuntimeContract } from './runtime.contract.js';

runRuntimeContract('ecs', async () => {
  const fake = new FakeAws();
  const runtime = new EcsRuntime({
    clients: fake.clients(new VirtualClock()),
    clusters: [CLUSTER],
    owner: 'test-owner',
    pollIntervalMs: 1000,
    logs: fakeLogs(fake),
  });
  return {
    runtime,
    spec: (env) => ecsSpec(env) as unknown as ServiceSpec,
    crash: async (i) => fake.ecs.crash(i.id),
    // A restart is a new ECS deployment: ECS replaces the task, which gets a new private IP.
    restartKeepsAddress: false,
    cleanup: async () => {
      await runtime.close();
      await fake.close();
    },
  };
});
