import { randomBytes } from 'node:crypto';
import { missingCertificates } from '../certs/certificates.js';
import { BatonError, DeployFailedError, InputError, NotFoundError } from '../core/errors.js';
import { hideValues, type SecretMarks, secretsOf } from '../core/secrets.js';
import { type Deployment, DeploymentState, type Revision, RevisionStatus } from '../core/types.js';
import { plan as computePlan } from '../plan/plan.js';
import type { Plan, PlanStrategy, Step } from '../plan/types.js';
import { routeConfigOf } from '../router/route-config.js';
import { HOOK_NAMES } from '../spec/hooks.js';
import type { ServiceSpec } from '../spec/schema.js';
import { LOCK_TTL_MS, takeDeployLock } from './deploy-lock.js';
import type { EngineDeps } from './deps.js';
import { dryRunPlan, type PlannedStep } from './dry-run.js';
import type { DeployEvent, Emit } from './events.js';
import { type ExecContext, execute } from './executor.js';
import { observe } from './observe.js';
import { type DeployRun, tell } from './observer.js';
import { DeploymentSignals } from './signals.js';
import { runHook } from './steps.js';

export interface DeployRequest extends SecretMarks {
  service: string;
  spec: ServiceSpec;
  actor: string;
}

export type DeployResult = Extract<DeployEvent, { type: 'result' }>;

interface Job {
  service: string;
  target: Revision;
  current: Revision | undefined;
  kind: 'deploy' | 'rollback';
  actor: string;
}

/** One deploy in progress: what it does, its id, where its events go and how it is steered. */
interface RunState {
  job: Job;
  id: string;
  emit: Emit;
  signals: DeploymentSignals;
  result: Promise<DeployResult>;
}

export function newDeploymentId(): string {
  return randomBytes(6).toString('hex');
}

/**
 * Runs deploys: lock → revision → plan → journaled steps → record the outcome. A failure at any step
 * rolls back to the revision that was serving, at full capacity, and says why. Running deployments can
 * be promoted, aborted, paused and resumed.
 */
export class Deployer {
  private readonly active = new Map<string, RunState>();
  /** Services locked by other work of this process (stop). */
  private readonly held = new Set<string>();

  constructor(private readonly deps: EngineDeps) {}

  /** A deploy or other locked work on this service runs in this process (the supervisor leaves it alone). */
  isBusy(service: string): boolean {
    return this.active.has(service) || this.held.has(service);
  }

  /** Runs `fn` holding the service's deploy lock, as a deploy would. */
  async exclusive<T>(service: string, fn: (id: string) => Promise<T>): Promise<T> {
    const id = newDeploymentId();
    await this.lock(service, id);
    this.held.add(service);
    try {
      return await fn(id);
    } finally {
      this.held.delete(service);
      await this.deps.repo.releaseLock(service, id);
    }
  }

  /** What a running deployment waits for, for `baton status`. */
  activity(service: string): { deployment: string; waiting: string | null; paused: boolean } | undefined {
    const run = this.active.get(service);
    return run && { deployment: run.id, waiting: run.signals.waiting, paused: run.signals.isPaused };
  }

  private running(service: string): RunState {
    const run = this.active.get(service);
    if (!run) throw new InputError(`no deployment of ${service} is running`);
    return run;
  }

  promote(service: string): { deployment: string } {
    const run = this.running(service);
    run.signals.promote();
    return { deployment: run.id };
  }

  abort(service: string, reason: string): { deployment: string } {
    const run = this.running(service);
    run.signals.abort(reason);
    return { deployment: run.id };
  }

  pause(service: string): { deployment: string } {
    const run = this.running(service);
    run.signals.pause();
    return { deployment: run.id };
  }

  resume(service: string): { deployment: string } {
    const run = this.running(service);
    run.signals.resume();
    return { deployment: run.id };
  }

  /**
   * The plan a deploy of `spec` would run now and, for drivers with a dry run (cloud), every API call of
   * each step, from what exists (reads are real, writes recorded). Changes nothing. Secret values (from
   * `secrets`) are hidden wherever they appear: request bodies, a check's headers.
   */
  async preview(
    service: string,
    spec: ServiceSpec,
    secrets: SecretMarks = {},
  ): Promise<{ plan: Plan; current: number | null; revision: number; calls: PlannedStep[] | null }> {
    const values = secretsOf({ ...secrets, spec });
    try {
      return hideValues(await this.previewClear(service, spec), values);
    } catch (err) {
      if (values.length === 0) throw err;
      // A driver's message may quote a request: the error goes to the API client (and a log) as shown,
      // without its cause, which holds the clear text.
      if (err instanceof BatonError)
        throw new BatonError(err.code, hideValues(err.message, values), {
          exitCode: err.exitCode,
          ...(err.details ? { details: hideValues(err.details, values) } : {}),
        });
      if (err instanceof Error) throw new Error(hideValues(err.message, values));
      throw err;
    }
  }

  private async previewClear(
    service: string,
    spec: ServiceSpec,
  ): Promise<{ plan: Plan; current: number | null; revision: number; calls: PlannedStep[] | null }> {
    const record = await this.deps.repo.getService(service);
    const current =
      record?.current != null ? await this.deps.repo.getRevision(service, record.current) : undefined;
    const revision =
      current && current.hash === (await this.deps.repo.specHash(spec))
        ? current.number
        : (record?.lastRevision ?? 0) + 1;
    const p = await this.planFor(service, revision, spec, spec.strategy, 'dry-run', record?.current ?? null);
    const dry = this.deps.dryRun?.(spec);
    if (!dry) return { plan: p, current: record?.current ?? null, revision, calls: null };
    try {
      const job = { service, revision, spec, fromRevision: record?.current ?? null, steps: p.steps };
      const calls = await dryRunPlan(this.deps, dry, job);
      return { plan: p, current: record?.current ?? null, revision, calls };
    } finally {
      await dry.close();
    }
  }

  async deploy(req: DeployRequest, emit: Emit): Promise<DeployResult> {
    const { repo } = this.deps;
    const record = await repo.getService(req.service);
    const current = record?.current != null ? await repo.getRevision(req.service, record.current) : undefined;
    // The same spec as the serving revision records nothing new: the deploy only converges it.
    const target =
      current && current.hash === (await repo.specHash(req.spec))
        ? current
        : (
            await repo.recordRevision(req.service, req.spec, {
              ...(req.secretEnv ? { secretEnv: req.secretEnv } : {}),
              ...(req.secretPaths ? { secretPaths: req.secretPaths } : {}),
            })
          ).revision;
    return this.run({ service: req.service, target, current, kind: 'deploy', actor: req.actor }, emit);
  }

  /**
   * Deploys an earlier revision again (default: the one before the current). While a deploy of the
   * service runs, it is aborted instead, which rolls it back (instantly inside a blue-green window).
   */
  async rollback(req: { service: string; to?: number; actor: string }, emit: Emit): Promise<DeployResult> {
    const running = this.active.get(req.service);
    if (running && req.to === undefined) {
      running.signals.abort(`rollback requested by ${req.actor}`);
      emit({ type: 'warning', message: `deployment ${running.id} was running: aborting it rolls it back` });
      const result = await running.result;
      emit(result);
      return result;
    }
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

  /**
   * Continues a deployment a dead control plane left behind, from its first step not done (the step it
   * was in is repeated: every step is idempotent).
   */
  async resumeInterrupted(d: Deployment, emit: Emit): Promise<DeployResult> {
    const { repo } = this.deps;
    const target = await repo.getRevision(d.service, d.toRevision);
    const current = d.fromRevision != null ? await repo.getRevision(d.service, d.fromRevision) : undefined;
    if (!target || !d.plan)
      throw new NotFoundError(`revision ${d.toRevision} or the plan of deployment ${d.id}`);
    const done = new Set((await repo.readJournal(d.id)).filter((j) => j.phase === 'done').map((j) => j.step));
    let startAt = 0;
    while (startAt < d.plan.length && done.has(startAt + 1)) startAt++;
    return this.run({ service: d.service, target, current, kind: d.kind, actor: d.actor }, emit, {
      id: d.id,
      plan: d.plan,
      startAt,
    });
  }

  private async planFor(
    service: string,
    revision: number,
    spec: Pick<ServiceSpec, 'replicas' | 'hooks'> & Partial<Pick<ServiceSpec, 'traffic'>>,
    strategy: PlanStrategy,
    deployment: string,
    stableRevision: number | null,
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
      strategy,
      stableRevision,
      hooks: HOOK_NAMES.filter((h) => spec.hooks?.[h]?.length),
      certificates: missingCertificates(spec.traffic, this.deps.certs),
      observed: observe(instances, route),
    });
  }

  /** Takes the deploy lock; a lock whose holder died on this host is taken over. */
  private lock(service: string, id: string): Promise<void> {
    return takeDeployLock(this.deps, service, id);
  }

  private async run(
    job: Job,
    emit: Emit,
    resume?: { id: string; plan: Step[]; startAt: number },
  ): Promise<DeployResult> {
    const { repo, logger } = this.deps;
    const { service, target } = job;
    const id = resume?.id ?? newDeploymentId();
    await this.lock(service, id);
    const log = logger.child({ service, deployment: id, revision: target.number });
    // Events carry messages from drivers and hooks, which may quote a secret: hidden before anyone sees them.
    const secrets = secretsOf(target);
    const watched: DeployRun = {
      service,
      deployment: id,
      kind: job.kind,
      strategy: job.kind === 'rollback' ? 'replace' : target.spec.strategy.type,
      revision: target.number,
      fromRevision: job.current?.number ?? null,
      startedAt: Date.now(),
      spec: target.spec,
    };
    const tee: Emit = (event) => {
      const e = hideValues(event, secrets);
      if (e.type === 'step' || e.type === 'warning' || e.type === 'rollback' || e.type === 'analysis')
        log.info({ event: e }, 'deploy progress');
      emit(e);
      tell(this.deps.observers, (o) => o.deployEvent?.(watched, e));
    };
    let settle: (r: DeployResult) => void = () => undefined;
    const run: RunState = {
      job,
      id,
      emit: tee,
      signals: new DeploymentSignals(),
      result: new Promise((r) => (settle = r)),
    };
    this.active.set(service, run);
    try {
      if (resume) {
        await repo.updateDeployment(id, { state: DeploymentState.Running });
        await this.audit(
          run,
          'started',
          `resumed at step ${resume.startAt + 1} after a control plane restart`,
        );
      } else {
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
      }
      tee({
        type: 'deployment',
        deployment: id,
        service,
        fromRevision: job.current?.number ?? null,
        toRevision: target.number,
        kind: job.kind,
      });
      let result: DeployResult;
      try {
        const steps = await this.advance(run, resume);
        result = await this.succeed(run, steps);
      } catch (err) {
        result = await this.fail(run, err);
      }
      settle(result);
      return result;
    } finally {
      this.active.delete(service);
      await repo
        .releaseLock(service, id)
        .catch((e: unknown) => log.warn({ err: e }, 'could not release deploy lock'));
    }
  }

  private context(run: RunState): ExecContext {
    const { job, id } = run;
    return {
      deps: this.deps,
      service: job.service,
      deployment: id,
      revision: job.target.number,
      spec: job.target.spec,
      fromRevision: job.current?.number ?? null,
      emit: run.emit,
      signals: run.signals,
      beforeStep: async () => {
        await this.deps.repo.renewLock(job.service, id, LOCK_TTL_MS);
      },
    };
  }

  /** Routes, plans (or takes the saved plan of a resumed deployment) and executes; returns the step count. */
  private async advance(run: RunState, resume?: { plan: Step[]; startAt: number }): Promise<number> {
    const { repo, router } = this.deps;
    const { service, target, current } = run.job;
    const spec = target.spec;
    await router.ensureRoute(routeConfigOf(service, spec.traffic));
    let steps = resume?.plan;
    if (!steps) {
      // A rollback is urgent: the whole earlier set at once, one switch.
      const strategy: PlanStrategy = run.job.kind === 'rollback' ? { type: 'replace' } : spec.strategy;
      steps = (await this.planFor(service, target.number, spec, strategy, run.id, current?.number ?? null))
        .steps;
      await repo.updateDeployment(run.id, { plan: steps });
    }
    run.emit({ type: 'plan', steps });
    await execute(this.context(run), steps, { startAt: resume?.startAt ?? 0 });
    return steps.length;
  }

  private async succeed(run: RunState, steps: number): Promise<DeployResult> {
    const { repo, router } = this.deps;
    const { service, target, current } = run.job;
    await repo.updateService(service, (cur) => ({
      name: service,
      current: target.number,
      lastRevision: Math.max(cur?.lastRevision ?? 0, target.number),
      stopped: false,
    }));
    if (current && current.number !== target.number)
      await repo.setRevisionStatus(service, current.number, RevisionStatus.Superseded);
    await repo.setRevisionStatus(service, target.number, RevisionStatus.Active);
    if (target.spec.traffic.preview) await router.setPreview(service, null);
    await repo.updateDeployment(run.id, {
      state: DeploymentState.Succeeded,
      finishedAt: new Date().toISOString(),
    });
    await this.audit(run, 'ok');
    if (steps > 0) await runHook(this.context(run), 'post-deploy');
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
    // Stored (deployment, revision, audit) as shown: a driver's message may quote a secret.
    const reason = hideValues(err instanceof Error ? err.message : String(err), secretsOf(target));
    run.emit({ type: 'rollback', reason });
    await repo.updateDeployment(run.id, { state: DeploymentState.RollingBack, error: reason });
    const journaled = (await repo.readJournal(run.id)).at(-1)?.step ?? 0;
    // A destroyed service had nothing serving: its last revision is history, not something to bring back.
    const destroyed = (await repo.getService(service))?.destroyed !== undefined;
    const restoreTo = destroyed ? undefined : current;
    const restored = await this.restore(service, restoreTo, run.id, run.emit, journaled).then(
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
    await runHook(this.context(run), 'on-rollback').catch(() => undefined);
    const serving = destroyed
      ? 'the service stays destroyed'
      : current
        ? `revision ${current.number} keeps serving`
        : 'nothing was serving before';
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
   * Brings `revision` back to full capacity: all new requests go to it at once (a canary split is
   * turned fully to it), its instances still draining take traffic again, missing ones are started, and
   * everything else is drained and stopped. With no revision, stops everything.
   */
  async restore(
    service: string,
    revision: Revision | undefined,
    deployment: string,
    emit: Emit,
    journalFrom = 0,
  ): Promise<void> {
    const { runtime, router } = this.deps;
    const route = await router.status(service);
    if (revision && route?.split) {
      await router.setSplit(service, {
        weights: [{ revision: revision.number, percent: 100 }],
        sticky: false,
      });
    }
    if (revision) {
      const instances = await runtime.list(service);
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
    const spec = revision?.spec ?? (await this.anySpec(service));
    const p = await this.planFor(
      service,
      revision?.number ?? 0,
      { replicas: revision ? spec.replicas : 0 },
      { type: 'replace' },
      deployment,
      null,
    );
    await execute(
      {
        deps: this.deps,
        service,
        deployment,
        revision: revision?.number ?? 0,
        spec,
        fromRevision: null,
        emit,
        signals: new DeploymentSignals(),
      },
      p.steps,
      { journalFrom },
    );
    if (route?.split) await router.setSplit(service, null);
    if (route?.previewRevision != null) await router.setPreview(service, null);
  }

  /** Timeouts for stopping instances when no revision is left to restore. */
  private async anySpec(service: string): Promise<ServiceSpec> {
    const revisions = await this.deps.repo.listRevisions(service);
    const spec = revisions[0]?.spec;
    if (!spec) throw new NotFoundError(`revisions of ${service}`);
    return spec;
  }
}
