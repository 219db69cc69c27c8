import type { ServiceSpec } from '../spec/schema.js';
import type { DeployEvent } from './events.js';

/** The deployment an event belongs to. `spec` is the target revision's, secrets in clear: never show it. */
export interface DeployRun {
  service: string;
  deployment: string;
  kind: 'deploy' | 'rollback';
  /** The plan's strategy: the spec's for a deploy, `replace` for a rollback. */
  strategy: string;
  revision: number;
  fromRevision: number | null;
  startedAt: number;
  spec: ServiceSpec;
}

/**
 * Something that watches the engine without steering it: metrics, notifications. Called synchronously
 * from the engine, so an observer only records or queues; it must return at once and never throw (a
 * throw is caught and dropped: watching never changes a deploy).
 */
export interface EngineObserver {
  /** Every event of a deployment, secrets already hidden. */
  deployEvent?(run: DeployRun, event: DeployEvent): void;
  /** The supervisor restarted an exited instance. */
  instanceRestarted?(service: string): void;
  /** A deploy found the service's deploy lock held: refused, or taken over from a dead holder. */
  lockHeld?(service: string, outcome: 'refused' | 'taken_over'): void;
}

/** Calls `fn` on each observer; whatever one throws is dropped. */
export function tell(
  observers: readonly EngineObserver[] | undefined,
  fn: (o: EngineObserver) => void,
): void {
  if (observers === undefined) return;
  for (const o of observers) {
    try {
      fn(o);
    } catch {
      // An observer's bug must not change the deploy it watches.
    }
  }
}
