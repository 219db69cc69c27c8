import { type Deployment, DeploymentState } from '../core/types.js';
import type { Deployer } from './deployer.js';
import type { EngineDeps } from './deps.js';

const OPEN: ReadonlySet<string> = new Set([
  DeploymentState.Running,
  DeploymentState.RollingBack,
  DeploymentState.Planned,
]);
const MOVES_TRAFFIC: ReadonlySet<string> = new Set(['route', 'switch', 'split']);

/**
 * Whether an interrupted deployment goes on or is rolled back: the revision's `onInterrupt`, where
 * `auto` goes forward once the new revision was healthy and serving (a traffic step completed).
 */
export async function recoveryDirection(deps: EngineDeps, d: Deployment): Promise<'forward' | 'back'> {
  if (d.state !== DeploymentState.Running || !d.plan) return 'back';
  const target = await deps.repo.getRevision(d.service, d.toRevision);
  if (!target) return 'back';
  const policy = target.spec.strategy.onInterrupt;
  if (policy !== 'auto') return policy === 'forward' ? 'forward' : 'back';
  const journal = await deps.repo.readJournal(d.id);
  return journal.some((j) => j.phase === 'done' && MOVES_TRAFFIC.has(j.op)) ? 'forward' : 'back';
}

/**
 * On start, deployments that were running when the previous control plane died are resumed from their
 * journal or rolled back to the revision that was serving. Instances the dead deploy created carry its
 * id, so a resumed step finds them; rolling back drains and stops them. None is orphaned or duplicated.
 * Resumed deployments go on in the background (they may wait on pauses); the promise of each is returned.
 */
export async function recoverInterrupted(
  deps: EngineDeps,
  deployer: Deployer,
): Promise<Array<Promise<unknown>>> {
  const { repo, logger } = deps;
  const open = (await repo.listDeployments(undefined, { limit: 1000 })).filter((d) => OPEN.has(d.state));
  const resumed: Array<Promise<unknown>> = [];
  for (const d of open) {
    const direction = await recoveryDirection(deps, d);
    const log = logger.child({ service: d.service, deployment: d.id, direction });
    log.warn('recovering a deployment interrupted by a control plane restart');
    // Its holder is dead: this process took over.
    await repo.releaseLock(d.service);
    const emit = (e: { type: string }) => {
      if (e.type === 'step' || e.type === 'result' || e.type === 'warning')
        log.info({ event: e }, 'recovery progress');
    };
    if (direction === 'forward') {
      resumed.push(
        deployer.resumeInterrupted(d, emit).catch((err: unknown) => log.error({ err }, 'resuming failed')),
      );
      continue;
    }
    // A deploy that had failed and was rolling back keeps why it failed: that is what history must say.
    const reason = d.error
      ? `${d.error}; interrupted: the control plane stopped during the rollback; rolled back`
      : 'interrupted: the control plane stopped during the deploy; rolled back';
    const record = await repo.getService(d.service);
    const current = record?.current != null ? await repo.getRevision(d.service, record.current) : undefined;
    const restored = await deployer
      .exclusive(d.service, () => deployer.restore(d.service, current, d.id, emit, 10_000))
      .then(
        () => true,
        (err: unknown) => {
          log.error({ err }, 'could not restore the serving revision');
          return false;
        },
      );
    if (d.kind === 'deploy' && d.toRevision !== current?.number)
      await repo.setRevisionStatus(d.service, d.toRevision, 'failed', reason);
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
  return resumed;
}
