import { describeStep } from '../plan/plan.js';
import type { Step } from '../plan/types.js';
import type { ServiceSpec } from '../spec/schema.js';
import type { CanaryWatch } from './canary-watch.js';
import type { EngineDeps } from './deps.js';
import type { Emit } from './events.js';
import type { DeploymentSignals } from './signals.js';
import { runStep } from './steps.js';

export interface ExecContext {
  deps: EngineDeps;
  service: string;
  deployment: string;
  /** Revision (and its spec) that `start` steps create. */
  revision: number;
  spec: ServiceSpec;
  /** The revision serving before this deployment (stable side of a canary; hooks' context). */
  fromRevision: number | null;
  emit: Emit;
  /** promote / abort / pause / resume from outside. */
  signals: DeploymentSignals;
  /** Called between steps (lock renewal). */
  beforeStep?: () => Promise<void>;
  /** The canary judge, once the canary takes traffic. */
  watch?: CanaryWatch;
}

/** Data journaled with a step: the step without its op. */
function stepData(step: Step): Record<string, unknown> {
  const { op: _op, ...data } = step;
  return data;
}

/**
 * Executes steps in order from `startAt` (a resumed deployment skips the ones done), journaling each
 * before it is attempted and after it ends. Between steps a paused deployment waits for resume. Throws
 * the first step's error (after journaling it); the caller decides how to roll back.
 */
export async function execute(
  ctx: ExecContext,
  steps: Step[],
  opts: { journalFrom?: number; startAt?: number } = {},
): Promise<void> {
  const { repo, faults } = ctx.deps;
  const journalFrom = opts.journalFrom ?? 0;
  try {
    for (let i = opts.startAt ?? 0; i < steps.length; i++) {
      const step = steps[i]!;
      await ctx.beforeStep?.();
      await ctx.signals.whileNotPaused();
      ctx.signals.signal.throwIfAborted();
      const n = journalFrom + i + 1;
      const record = async (phase: 'begin' | 'done' | 'failed', message: string, error?: string) => {
        await repo.journal(ctx.deployment, {
          step: n,
          op: step.op,
          phase,
          data: stepData(step),
          ...(error ? { error } : {}),
        });
        ctx.emit({ type: 'step', index: i + 1, total: steps.length, op: step.op, phase, message });
        // Fault injection for the crash-safety tests: die right after this journal entry.
        if (faults?.killAt?.step === n && faults.killAt.phase === phase) process.kill(process.pid, 'SIGKILL');
      };
      const message = describeStep(step);
      await record('begin', message);
      const running = runStep(ctx, step);
      try {
        await ctx.signals.race(running);
      } catch (err) {
        // On abort, let the step settle first (waits end at once, a start finishes spawning), so the
        // rollback sees every instance the step made.
        await running.catch(() => undefined);
        const error = err instanceof Error ? err.message : String(err);
        await record('failed', error, error);
        throw err;
      }
      await record('done', message);
    }
  } finally {
    ctx.watch?.stop();
  }
}
