import type { Verdict } from '../analysis/judge.js';
import type { ProbeResult } from '../core/types.js';
import type { Step } from '../plan/types.js';

/** Progress of a deployment, streamed to the CLI (NDJSON) and written to the daemon's log. */
export type DeployEvent =
  | {
      type: 'deployment';
      deployment: string;
      service: string;
      fromRevision: number | null;
      toRevision: number;
      kind: string;
    }
  | { type: 'plan'; steps: Step[] }
  | {
      type: 'step';
      index: number;
      total: number;
      op: Step['op'];
      phase: 'begin' | 'done' | 'failed';
      message: string;
    }
  | { type: 'instance'; instance: string; message: string }
  | { type: 'probe'; instance: string; result: ProbeResult }
  | { type: 'warning'; message: string }
  /** A step waits for `baton promote` / `resume`, or for the analysis. */
  | { type: 'waiting'; for: string; message: string }
  | {
      type: 'analysis';
      decision: 'promote' | 'wait' | 'abort';
      reason: string;
      /** Canary and stable over the window so far (the dashboard's analysis panel). */
      figures?: Verdict['figures'] | undefined;
    }
  | { type: 'hook'; hook: string; ok: boolean; detail: string; output: string }
  | { type: 'rollback'; reason: string }
  | {
      type: 'result';
      ok: boolean;
      deployment: string;
      service: string;
      revision: number;
      state: string;
      message: string;
      error?: { code: string; message: string; details?: Record<string, unknown> };
    };

export type Emit = (event: DeployEvent) => void;
