import { DeployFailedError } from '../core/errors.js';
import { address } from '../core/types.js';
import type { Step } from '../plan/types.js';
import type { Backend } from '../router/router.js';
import { type ActionContext, runAction, runCheck } from './actions.js';
import { awaitHealthy } from './await-healthy.js';
import { CanaryWatch } from './canary-watch.js';
import type { ExecContext } from './executor.js';

async function backendsOf(ctx: ExecContext, ids: string[]): Promise<Backend[]> {
  return Promise.all(
    ids.map(async (id) => {
      const inst = await ctx.deps.runtime.get(id);
      if (!inst) throw new Error(`instance ${id} is gone`);
      return { id, address: address(inst), revision: inst.revision, weight: 1 };
    }),
  );
}

export function actionContext(ctx: ExecContext, hook: string): ActionContext {
  return {
    service: ctx.service,
    revision: ctx.revision,
    fromRevision: ctx.fromRevision,
    deployment: ctx.deployment,
    hook,
    strategy: ctx.spec.strategy.type,
  };
}

/** Runs a hook's actions in order; a pre-hook failure fails the deploy, others are reported. */
export async function runHook(
  ctx: ExecContext,
  hook: keyof NonNullable<ExecContext['spec']['hooks']>,
): Promise<void> {
  for (const action of ctx.spec.hooks?.[hook] ?? []) {
    const r = await runAction(action, actionContext(ctx, hook));
    ctx.emit({ type: 'hook', hook, ok: r.ok, detail: r.detail, output: r.output });
    if (r.ok) continue;
    const message = `the ${hook} hook failed (${r.detail})${r.output ? `; its output:\n${r.output}` : ''}`;
    if (hook.startsWith('pre-')) throw new DeployFailedError(message, { hook, reason: 'hook' });
    ctx.emit({ type: 'warning', message });
    return;
  }
}

/** Starts the canary judge once the canary takes traffic (or when a resumed deploy reaches the judge). */
async function ensureWatch(ctx: ExecContext): Promise<CanaryWatch | undefined> {
  const strategy = ctx.spec.strategy;
  if (strategy.type !== 'canary' || !strategy.analysis || ctx.fromRevision === null) return undefined;
  ctx.watch ??= new CanaryWatch(
    ctx.deps.router,
    ctx.service,
    ctx.fromRevision,
    ctx.revision,
    strategy.analysis,
    ctx.emit,
    ctx.signals,
  );
  await ctx.watch.start();
  return ctx.watch;
}

/** Runs one step. Every call underneath is idempotent, so a repeated (resumed) step does no harm. */
export async function runStep(ctx: ExecContext, step: Step): Promise<void> {
  const { runtime, router } = ctx.deps;
  const { service, spec, signals } = ctx;
  switch (step.op) {
    case 'certificate': {
      const certs = ctx.deps.certs;
      if (!certs)
        throw new DeployFailedError('tls: auto needs automatic certificates, which this engine has not');
      for (const host of step.hosts) await certs.ensure(host);
      return;
    }
    case 'start':
      await Promise.all(
        step.instances.map(async (id) => {
          const inst = await runtime.start({
            id,
            service,
            revision: step.revision,
            deployment: ctx.deployment,
            spec,
          });
          ctx.emit({
            type: 'instance',
            instance: id,
            message: `started at ${address(inst)}${inst.pid ? ` (pid ${inst.pid})` : ''}`,
          });
        }),
      );
      return;
    case 'await-healthy':
      await Promise.all(
        step.instances.map(async (id) => {
          const r = await awaitHealthy(runtime, id, spec.probe, ctx.emit, signals.signal);
          ctx.emit({ type: 'instance', instance: id, message: `healthy: ${r.detail}` });
        }),
      );
      return;
    case 'route':
      await router.addBackends(service, await backendsOf(ctx, step.instances));
      if (step.instances.length) await ensureWatch(ctx);
      return;
    case 'switch':
      await router.switchTo(service, step.instances, await backendsOf(ctx, step.instances));
      return;
    case 'preview':
      await router.addBackends(service, await backendsOf(ctx, step.instances), { standby: true });
      // Without a preview listener (always so with HAProxy) the standby set simply waits for the switch.
      if (spec.traffic.preview) {
        await router.setPreview(service, step.revision);
        ctx.emit({
          type: 'instance',
          instance: step.instances.join(', '),
          message: `preview on http://${spec.traffic.preview}/`,
        });
      }
      return;
    case 'drain': {
      await router.drain(service, step.instances);
      const r = await router.waitDrained(service, step.instances, spec.traffic.drainTimeout);
      if (!r.drained) {
        ctx.emit({
          type: 'warning',
          message: `drain timeout after ${r.waitedMs} ms: ${r.inFlight} request(s) or WebSocket(s) still open on ${step.instances.join(', ')}`,
        });
      }
      return;
    }
    case 'stop':
      await router.removeBackends(service, step.instances);
      await Promise.all(
        step.instances.map(async (id) => {
          await runtime.stop(id, spec.stopTimeout);
          await runtime.remove(id);
        }),
      );
      return;
    case 'hook':
      return runHook(ctx, step.hook);
    case 'check': {
      const r = await signals.race(runCheck(step.check, actionContext(ctx, 'check')));
      ctx.emit({ type: 'hook', hook: 'check', ok: r.ok, detail: r.detail, output: r.output });
      if (!r.ok)
        throw new DeployFailedError(`check failed: ${r.detail}${r.output ? `; output:\n${r.output}` : ''}`, {
          reason: 'check',
        });
      return;
    }
    case 'await-promotion': {
      ctx.emit({
        type: 'waiting',
        for: 'promotion',
        message:
          step.autoMs === undefined
            ? `run: baton promote ${service}`
            : `promoting in ${step.autoMs / 1000}s (or baton promote ${service})`,
      });
      await signals.waitPromotion(step.autoMs);
      return;
    }
    case 'split': {
      const weights = [
        { revision: step.stable, percent: 100 - step.percent },
        { revision: step.canary, percent: step.percent },
      ];
      const sticky = spec.strategy.type === 'canary' ? spec.strategy.sticky : false;
      await router.setSplit(service, { weights, canary: step.canary, stable: step.stable, sticky });
      await ensureWatch(ctx);
      return;
    }
    case 'unsplit':
      await router.setSplit(service, null);
      return;
    case 'pause':
      ctx.emit({
        type: 'waiting',
        for: 'promotion',
        message:
          step.ms === undefined
            ? `paused: run baton promote ${service} to go on`
            : `pausing ${step.ms / 1000}s (baton promote ${service} skips)`,
      });
      await signals.waitPromotion(step.ms);
      return;
    case 'judge': {
      const watch = await ensureWatch(ctx);
      if (!watch || spec.strategy.type !== 'canary' || !spec.strategy.analysis) return;
      const verdict = await watch.awaitPromote(spec.strategy.analysis.deadline);
      if (verdict?.decision === 'promote') return;
      ctx.emit({
        type: 'waiting',
        for: 'promotion',
        message: `the analysis could not decide before its deadline (${verdict?.reason ?? 'no verdict'}): baton promote ${service} or baton abort ${service}`,
      });
      await signals.waitPromotion(undefined, 'analysis');
      return;
    }
    case 'linger':
      ctx.emit({
        type: 'waiting',
        for: 'rollback window',
        message: `keeping the previous set ${step.ms / 1000}s: baton rollback ${service} switches back instantly`,
      });
      await signals.waitPromotion(step.ms, 'rollback window');
      return;
  }
}
