import { VirtualClock } from '../../src/cloud/clock.js';
import { AlbRouter } from '../../src/router/alb/router.js';
import { LISTENER_ARN, PREVIEW_LISTENER_ARN, TG_BLUE, TG_GREEN } from '../fakes/aws/elb.js';
import { FakeAws } from '../fakes/aws/fake-aws.js';
import { runRouterContract } from './router.contract.js';

runRouterContract(
  'alb',
  async () => {
    const fake = new FakeAws();
    const router = new AlbRouter({
      clients: fake.clients(new VirtualClock()),
      services: {
        web: {
          kind: 'alb',
          listenerArn: LISTENER_ARN,
          targetGroups: [TG_BLUE, TG_GREEN],
          previewListenerArn: PREVIEW_LISTENER_ARN,
          pollInterval: 10,
        },
      },
    });
    return { router, cleanup: () => fake.close() };
  },
  { noHold: 'an ALB cannot hold requests: setMode hold is a DriverError' },
);
