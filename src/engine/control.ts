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

  /**
   * `baton destroy` (deploy-inst's delete-only): everything Baton runs for the service goes, in the
   * order a deploy retires a set — drain, wait, delete the backends, stop and remove the instances (in
   * the cloud: the container instances themselves) — then instances no plan counts (stopped ones) and
   * the route. The service is marked destroyed; its history (revisions, deployments, audit) is kept and
   * a later deploy brings it back.
   */
  async destroy(service: string, actor: string): Promise<{ service: string; removed: string[] }> {
    const { repo, runtime, router } = this.deps;
    const record = await repo.getService(service);
    if (!record) throw new NotFoundError(`service ${service}`);
    return this.deployer.exclusive(service, async (id) => {
      const removed = (await runtime.list(service)).map((i) => i.id).sort();
      try {
        await repo.updateService(service, (cur) => ({ ...(cur ?? record), stopped: true }));
        await this.deployer.restore(service, undefined, id, () => undefined);
        const stopTimeout = (await repo.listRevisions(service))[0]?.spec.stopTimeout ?? 10_000;
        for (const left of await runtime.list(service)) {
          await runtime.stop(left.id, stopTimeout);
          await runtime.remove(left.id);
        }
        await router.removeRoute(service);
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        await repo.audit({ actor, action: 'destroy', service, result: 'failed', message });
        throw err;
      }
      const at = new Date().toISOString();
      await repo.updateService(service, (cur) => ({ ...(cur ?? record), stopped: true, destroyed: at }));
      await repo.audit({
        actor,
        action: 'destroy',
        service,
        result: 'ok',
        message: `${removed.length} instance(s), their backends and the route removed`,
      });
      return { service, removed };
    });
  }
}
