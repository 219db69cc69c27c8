import { randomBytes } from 'node:crypto';
import { BatonError, DeployFailedError, InputError, NotFoundError } from '../core/errors.js';
import { type Deployment, DeploymentState, type Revision, RevisionStatus } from '../core/types.js';
import { plan as computePlan } from '../plan/plan.js';
import type { Plan } from '../plan/types.js';
import type { ServiceSpec } from '../spec/schema.js';
import { specHash } from '../store/hash.js';
import type { EngineDeps } from './deps.js';
import type { DeployEvent, Emit } from './events.js';
import { execute } from './executor.js';
import { observe } from './observe.js';

const LOCK_TTL_MS = 60_000;

export interface DeployRequest {
  service: string;
  spec: ServiceSpec;
  actor: string;
  /** Env var names whose values are secret (from !env, !file, !base64): never printed. */
  secretEnv?: string[];
}

export type DeployResult = Extract<DeployEvent, { type: 'result' }>;

interface Job {
  service: string;
  target: Revision;
  current: Revision | undefined;
  kind: 'deploy' | 'rollback';
  actor: string;
}

/** One deploy in progress: what it does, its id, and where its events go. */
interface RunState {
  job: Job;
  id: string;
  emit: Emit;
}

export function newDeploymentId(): string {
  return randomBytes(6).toString('hex');
}

/**
 * Runs deploys: lock → revision → plan → journaled steps → record the outcome. A failure at any step
 * rolls back to the revision that was serving, at full capacity, and says why.
 */
export class Deployer {
  /** Services with a deploy in progress in this process (the supervisor leaves them alone). */
  readonly busy = new Set<string>();

  constructor(private readonly deps: EngineDeps) {}

  /** The plan a deploy of `spec` would run now. Changes nothing. */
  async preview(
    service: string,
    spec: ServiceSpec,
  ): Promise<{ plan: Plan; current: number | null; revision: number }> {
    const record = await this.deps.repo.getService(service);
    const revision = (record?.lastRevision ?? 0) + 1;
    const p = await this.planFor(service, revision, spec, 'dry-run');
    return { plan: p, current: record?.current ?? null, revision };
  }

  async deploy(req: DeployRequest, emit: Emit): Promise<DeployResult> {
    const { repo } = this.deps;
    const record = await repo.getService(req.service);
    const current = record?.current != null ? await repo.getRevision(req.service, record.current) : undefined;
    // The same spec as the serving revision records nothing new: the deploy only converges it.
    const target =
      current && current.hash === specHash(req.spec)
        ? current
        : (
            await repo.recordRevision(req.service, req.spec, {
              ...(req.secretEnv ? { secretEnv: req.secretEnv } : {}),
            })
          ).revision;
    return this.run({ service: req.service, target, current, kind: 'deploy', actor: req.actor }, emit);
  }

  /** Deploys an earlier revision again (default: the one before the current). */
  async rollback(req: { service: string; to?: number; actor: string }, emit: Emit): Promise<DeployResult> {
    const { repo } = this.deps;
    const record = await repo.getService(req.service);
    if (!record) throw new NotFoundError(`service ${req.service}`);
    const current = record.current != null ? await repo.getRevision(req.service, record.current) : undefined;
    let target: Revision | undefined;
    if (req.to !== undefined) {
      target = await repo.getRevision(req.service, req.to);
      if (!target)
        throw new InputError(
          `service ${req.service} has no revision ${req.to} (see baton history ${req.service})`,
        );
    } else {
      const revisions = await repo.listRevisions(req.service);
      target = revisions.find((r) => r.number < (record.current ?? 0) && r.status !== RevisionStatus.Failed);
      if (!target)
        throw new InputError(`service ${req.service} has no earlier healthy revision to roll back to`);
    }
    return this.run({ service: req.service, target, current, kind: 'rollback', actor: req.actor }, emit);
  }

  private async planFor(
    service: string,
    revision: number,
    spec: Pick<ServiceSpec, 'replicas' | 'strategy'>,
    deployment: string,
  ): Promise<Plan> {
    const [instances, route] = await Promise.all([
      this.deps.runtime.list(service),
      this.deps.router.status(service),
    ]);
    return computePlan({
      service,
      deployment,
      revision,
      replicas: spec.replicas,
      strategy: spec.strategy,
      observed: observe(instances, route),
    });
  }

  private async run(job: Job, emit: Emit): Promise<DeployResult> {
    const { repo, logger } = this.deps;
    const { service, target } = job;
    const id = newDeploymentId();
    await repo.acquireLock(
      service,
      { holder: this.deps.holder, pid: process.pid, deployment: id },
      LOCK_TTL_MS,
    );
    this.busy.add(service);
    const log = logger.child({ service, deployment: id, revision: target.number });
    const tee: Emit = (e) => {
      if (e.type === 'step' || e.type === 'warning' || e.type === 'rollback')
        log.info({ event: e }, 'deploy progress');
      emit(e);
    };
    const run: RunState = { job, id, emit: tee };
    try {
      await repo.createDeployment({
        id,
        service,
        fromRevision: job.current?.number ?? null,
        toRevision: target.number,
        state: DeploymentState.Running,
        kind: job.kind,
        actor: job.actor,
        startedAt: new Date().toISOString(),
      });
      await this.audit(run, 'started');
      tee({
        type: 'deployment',
        deployment: id,
        service,
        fromRevision: job.current?.number ?? null,
        toRevision: target.number,
        kind: job.kind,
      });
      let steps: number;
      try {
        steps = await this.advance(run);
      } catch (err) {
        return await this.fail(run, err);
      }
      return await this.succeed(run, steps);
    } finally {
      this.busy.delete(service);
      await repo
        .releaseLock(service, id)
        .catch((e: unknown) => log.warn({ err: e }, 'could not release deploy lock'));
    }
  }

  /** Routes, plans and executes; returns how many steps it took. */
  private async advance({ job, id, emit }: RunState): Promise<number> {
    const { repo, router } = this.deps;
    const { service, target } = job;
    const spec = target.spec;
    await router.ensureRoute({
      service,
      listen: spec.traffic.listen,
      drainTimeoutMs: spec.traffic.drainTimeout,
    });
    const p = await this.planFor(service, target.number, spec, id);
    emit({ type: 'plan', steps: p.steps });
    const renew = async () => {
      await repo.renewLock(service, id, LOCK_TTL_MS);
    };
    await execute(
      { deps: this.deps, service, deployment: id, revision: target.number, spec, emit, beforeStep: renew },
      p.steps,
    );
    return p.steps.length;
  }

  private async succeed(run: RunState, steps: number): Promise<DeployResult> {
    const { repo } = this.deps;
    const { service, target, current } = run.job;
    await repo.updateService(service, (cur) => ({
      name: service,
      current: target.number,
      lastRevision: Math.max(cur?.lastRevision ?? 0, target.number),
      stopped: false,
    }));
    if (current && current.number !== target.number) {
      await repo.setRevisionStatus(service, current.number, RevisionStatus.Superseded);
    }
    await repo.setRevisionStatus(service, target.number, RevisionStatus.Active);
    await repo.updateDeployment(run.id, {
      state: DeploymentState.Succeeded,
      finishedAt: new Date().toISOString(),
    });
    await this.audit(run, 'ok');
    const message =
      steps === 0
        ? `${service} revision ${target.number} is already running; nothing to do`
        : `${service} revision ${target.number} is serving`;
    const result: DeployResult = {
      type: 'result',
      ok: true,
      deployment: run.id,
      service,
      revision: target.number,
      state: DeploymentState.Succeeded,
      message,
    };
    run.emit(result);
    return result;
  }

  /** Rolls back to the revision that was serving and records why the deploy failed. */
  private async fail(run: RunState, err: unknown): Promise<DeployResult> {
    const { repo } = this.deps;
    const { service, target, current } = run.job;
    const reason = err instanceof Error ? err.message : String(err);
    run.emit({ type: 'rollback', reason });
    await repo.updateDeployment(run.id, { state: DeploymentState.RollingBack, error: reason });
    const journaled = (await repo.readJournal(run.id)).at(-1)?.step ?? 0;
    const restored = await this.restore(service, current, run.id, run.emit, journaled).then(
      () => true,
      (rbErr: unknown) => {
        run.emit({
          type: 'warning',
          message: `rollback did not complete: ${rbErr instanceof Error ? rbErr.message : rbErr}`,
        });
        return false;
      },
    );
    if (run.job.kind === 'deploy' && target.number !== current?.number) {
      await repo.setRevisionStatus(service, target.number, RevisionStatus.Failed, reason);
    }
    const state = restored ? DeploymentState.RolledBack : DeploymentState.Failed;
    await repo.updateDeployment(run.id, { state, error: reason, finishedAt: new Date().toISOString() });
    await this.audit(run, 'failed', reason);
    const serving = current ? `revision ${current.number} keeps serving` : 'nothing was serving before';
    const error = new DeployFailedError(
      `${run.job.kind} of ${service} revision ${target.number} failed: ${reason}; ${restored ? 'rolled back' : 'rollback incomplete'}, ${serving}`,
      err instanceof BatonError && err.details ? err.details : undefined,
    );
    const result: DeployResult = {
      type: 'result',
      ok: false,
      deployment: run.id,
      service,
      revision: target.number,
      state,
      message: error.message,
      error: error.toJSON() as DeployResult['error'],
    };
    run.emit(result);
    return result;
  }

  private audit(
    { job, id }: RunState,
    result: 'started' | 'ok' | 'failed',
    message?: string,
  ): Promise<number> {
    return this.deps.repo.audit({
      actor: job.actor,
      action: job.kind,
      service: job.service,
      revision: job.target.number,
      deployment: id,
      result,
      ...(message ? { message } : {}),
    });
  }

  /**
   * Brings `revision` back to full capacity: old instances still draining take traffic again, missing
   * ones are started, and everything else is drained and stopped. With no revision, stops everything.
   */
  async restore(
    service: string,
    revision: Revision | undefined,
    deployment: string,
    emit: Emit,
    journalFrom = 0,
  ): Promise<void> {
    const { runtime, router } = this.deps;
    if (revision) {
      const [instances, route] = await Promise.all([runtime.list(service), router.status(service)]);
      const inRouter = new Set(route?.backends.map((b) => b.id));
      const survivors = instances.filter(
        (i) => i.revision === revision.number && i.state === 'running' && inRouter.has(i.id),
      );
      if (survivors.length) {
        await router.addBackends(
          service,
          survivors.map((i) => ({
            id: i.id,
            address: `${i.host}:${i.port}`,
            revision: i.revision,
            weight: 1,
          })),
        );
      }
    }
    const spec = revision?.spec;
    // Restoring is urgent: start what is missing all at once, then switch back in one step.
    const replicas = spec?.replicas ?? 0;
    const p = await this.planFor(
      service,
      revision?.number ?? 0,
      { replicas, strategy: { type: 'replace' } },
      deployment,
    );
    await execute(
      {
        deps: this.deps,
        service,
        deployment,
        revision: revision?.number ?? 0,
        spec: spec ?? (await this.anySpec(service)),
        emit,
      },
      p.steps,
      journalFrom,
    );
  }

  /** Timeouts for stopping instances when no revision is left to restore. */
  private async anySpec(service: string): Promise<ServiceSpec> {
    const revisions = await this.deps.repo.listRevisions(service);
    const spec = revisions[0]?.spec;
    if (!spec) throw new NotFoundError(`revisions of ${service}`);
    return spec;
  }
}
