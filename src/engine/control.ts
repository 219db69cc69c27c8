import { NotFoundError } from '../core/errors.js';
import type { Deployer } from './deployer.js';
import type { EngineDeps } from './deps.js';

/** Operations on a whole service besides deploys. */
export class ServiceControl {
  constructor(
    private readonly deps: EngineDeps,
    private readonly deployer: Deployer,
  ) {}

  /**
   * `baton stop`: drain and stop every instance, close the listener, and mark the service stopped so
   * the supervisor leaves it down. A later deploy brings it back.
   */
  async stop(service: string, actor: string): Promise<{ service: string; stopped: number }> {
    const { repo, runtime, router } = this.deps;
    const record = await repo.getService(service);
    if (!record) throw new NotFoundError(`service ${service}`);
    return this.deployer.exclusive(service, async (id) => {
      await repo.updateService(service, (cur) => ({ ...(cur ?? record), stopped: true }));
      const count = (await runtime.list(service)).length;
      await this.deployer.restore(service, undefined, id, () => undefined);
      await router.removeRoute(service);
      await repo.audit({
        actor,
        action: 'stop',
        service,
        result: 'ok',
        message: `${count} instance(s) stopped`,
      });
      return { service, stopped: count };
    });
  }
}
