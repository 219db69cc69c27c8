import { address } from '../core/types.js';
import { describeStep } from '../plan/plan.js';
import type { Step } from '../plan/types.js';
import type { ServiceSpec } from '../spec/schema.js';
import { awaitHealthy } from './await-healthy.js';
import type { EngineDeps } from './deps.js';
import type { Emit } from './events.js';

export interface ExecContext {
  deps: EngineDeps;
  service: string;
  deployment: string;
  /** Revision (and its spec) that `start` steps create. */
  revision: number;
  spec: ServiceSpec;
  emit: Emit;
  signal?: AbortSignal;
  /** Called between steps (lock renewal). */
  beforeStep?: () => Promise<void>;
}

/** Runs one step. Every call underneath is idempotent, so a repeated step does no harm. */
async function runStep(ctx: ExecContext, step: Step): Promise<void> {
  const { runtime, router } = ctx.deps;
  const { service, spec } = ctx;
  switch (step.op) {
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
          const r = await awaitHealthy(runtime, id, spec.probe, ctx.emit, ctx.signal);
          ctx.emit({ type: 'instance', instance: id, message: `healthy: ${r.detail}` });
        }),
      );
      return;
    case 'route':
    case 'switch': {
      const backends = await Promise.all(
        step.instances.map(async (id) => {
          const inst = await runtime.get(id);
          if (!inst) throw new Error(`instance ${id} is gone`);
          return { id, address: address(inst), revision: inst.revision, weight: 1 };
        }),
      );
      if (step.op === 'switch') await router.switchTo(service, step.instances, backends);
      else await router.addBackends(service, backends);
      return;
    }
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
  }
}

/**
 * Executes steps in order, journaling each before it is attempted and after it ends. Throws the first
 * step's error (after journaling it); the caller decides how to roll back.
 */
export async function execute(ctx: ExecContext, steps: Step[], journalFrom = 0): Promise<void> {
  const { repo } = ctx.deps;
  for (const [i, step] of steps.entries()) {
    await ctx.beforeStep?.();
    ctx.signal?.throwIfAborted();
    const record = async (phase: 'begin' | 'done' | 'failed', message: string, error?: string) => {
      const data = { instances: step.instances };
      await repo.journal(ctx.deployment, {
        step: journalFrom + i + 1,
        op: step.op,
        phase,
        data,
        ...(error ? { error } : {}),
      });
      ctx.emit({ type: 'step', index: i + 1, total: steps.length, op: step.op, phase, message });
    };
    const message = describeStep(step);
    await record('begin', message);
    try {
      await runStep(ctx, step);
    } catch (err) {
      const error = err instanceof Error ? err.message : String(err);
      await record('failed', error, error);
      throw err;
    }
    await record('done', message);
  }
}
