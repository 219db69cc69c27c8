import { DeploymentState } from '../core/types.js';
import type { Deployer } from './deployer.js';
import type { EngineDeps } from './deps.js';

/**
 * On start, deployments that were running when the previous control plane died are brought back to the
 * service's current revision (the one that was serving), and marked failed with the reason. Instances
 * the dead deploy created are found by the runtime's list and drained and stopped; none is duplicated.
 */
export async function recoverInterrupted(deps: EngineDeps, deployer: Deployer): Promise<number> {
  const { repo, logger } = deps;
  const open = (await repo.listDeployments(undefined, { limit: 1000 })).filter(
    (d) =>
      d.state === DeploymentState.Running ||
      d.state === DeploymentState.RollingBack ||
      d.state === DeploymentState.Planned,
  );
  for (const d of open) {
    const reason = 'interrupted: the control plane stopped during the deploy';
    logger.warn({ service: d.service, deployment: d.id }, 'recovering interrupted deployment');
    const record = await repo.getService(d.service);
    const current = record?.current != null ? await repo.getRevision(d.service, record.current) : undefined;
    await repo.releaseLock(d.service);
    const emit = () => undefined;
    const restored = await deployer.restore(d.service, current, d.id, emit, 10_000).then(
      () => true,
      (err: unknown) => {
        logger.error({ err, service: d.service, deployment: d.id }, 'could not restore the serving revision');
        return false;
      },
    );
    if (d.kind === 'deploy' && d.toRevision !== current?.number) {
      await repo.setRevisionStatus(d.service, d.toRevision, 'failed', reason);
    }
    await repo.updateDeployment(d.id, {
      state: restored ? DeploymentState.RolledBack : DeploymentState.Failed,
      error: reason,
      finishedAt: new Date().toISOString(),
    });
    await repo.audit({
      actor: 'baton',
      action: 'recover',
      service: d.service,
      deployment: d.id,
      result: restored ? 'ok' : 'failed',
      message: reason,
    });
  }
  return open.length;
}
