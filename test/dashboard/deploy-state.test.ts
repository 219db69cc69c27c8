import { describe, expect, it } from 'vitest';
import type { DeployEvent } from '../../src/engine/events.js';

interface Step {
  label: string;
  state: string;
}
interface DeployView {
  deployment: string;
  kind?: string;
  toRevision?: number;
  steps: Step[];
  waiting?: string | null;
  analysis?: { decision: string };
  result?: { ok: boolean; message: string };
  log: string[];
}
type Fold = (prev: DeployView | undefined, service: string, deployment: string, e: DeployEvent) => DeployView;

// The page's own module (plain browser JavaScript, no DOM in it), loaded as the browser loads it.
const MODULE = '../../src/dashboard/assets/deploy-state.js';
const { foldDeploy } = (await import(MODULE)) as { foldDeploy: Fold };

describe("the page's view of a deploy", () => {
  it('folds the event stream into the plan with each step state, what it waits for, the verdict and the outcome', () => {
    const events: DeployEvent[] = [
      {
        type: 'deployment',
        deployment: 'd1',
        service: 'web',
        fromRevision: 1,
        toRevision: 2,
        kind: 'deploy',
      },
      {
        type: 'plan',
        steps: [
          { op: 'start', revision: 2, instances: ['web-r2-1'] },
          { op: 'split', stable: 1, canary: 2, percent: 50 },
          { op: 'pause' },
        ],
      } as DeployEvent,
      {
        type: 'step',
        index: 1,
        total: 3,
        op: 'start',
        phase: 'begin',
        message: 'start 1 instance: web-r2-1',
      },
      { type: 'step', index: 1, total: 3, op: 'start', phase: 'done', message: 'start 1 instance: web-r2-1' },
      { type: 'step', index: 2, total: 3, op: 'split', phase: 'begin', message: 'send 50%' },
      { type: 'analysis', decision: 'wait', reason: 'not enough traffic' },
      { type: 'step', index: 2, total: 3, op: 'split', phase: 'done', message: 'send 50%' },
      { type: 'step', index: 3, total: 3, op: 'pause', phase: 'begin', message: 'pause until promoted' },
      { type: 'waiting', for: 'promotion', message: 'paused: run baton promote web' },
    ];
    let d: DeployView | undefined;
    for (const e of events) d = foldDeploy(d, 'web', 'd1', e);
    expect(d!.steps.map((s) => s.state)).toEqual(['done', 'done', 'running']);
    expect(d!.steps.map((s) => s.label)).toEqual([
      'start 1 instance: web-r2-1',
      'send 50%',
      'pause until promoted',
    ]);
    expect(d!.waiting).toBe('paused: run baton promote web');
    expect(d!.analysis?.decision).toBe('wait');
    d = foldDeploy(d, 'web', 'd1', {
      type: 'step',
      index: 3,
      total: 3,
      op: 'pause',
      phase: 'done',
      message: 'pause until promoted',
    });
    d = foldDeploy(d, 'web', 'd1', { type: 'analysis', decision: 'promote', reason: 'as good as stable' });
    d = foldDeploy(d, 'web', 'd1', {
      type: 'step',
      index: 4,
      total: 5,
      op: 'judge',
      phase: 'done',
      message: 'judged',
    });
    // Readings after the judge let the canary go are not its verdict.
    d = foldDeploy(d, 'web', 'd1', {
      type: 'analysis',
      decision: 'wait',
      reason: 'not enough stable traffic',
    });
    expect(d.analysis?.decision).toBe('promote');
    d = foldDeploy(d, 'web', 'd1', {
      type: 'result',
      ok: true,
      deployment: 'd1',
      service: 'web',
      revision: 2,
      state: 'succeeded',
      message: 'web revision 2 is serving',
    });
    expect(d.waiting).toBeNull();
    expect(d.result).toMatchObject({ ok: true, message: 'web revision 2 is serving' });
    // A new deployment starts a new view.
    const next = foldDeploy(d, 'web', 'd2', { type: 'warning', message: 'x' });
    expect(next).toMatchObject({ deployment: 'd2', steps: [], log: ['warning: x'] });
  });
});
