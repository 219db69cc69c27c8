import type { DeployEvent } from '../engine/events.js';
import type { DeployRun } from '../engine/observer.js';
import type { NotifyEvent } from '../spec/notify.js';

/** What a JSON webhook receives (and what a Slack message says in words). */
export interface Notification {
  event: NotifyEvent;
  service: string;
  deployment: string;
  /** `deploy`, or `rollback` for `baton rollback`. */
  kind: 'deploy' | 'rollback';
  strategy: string;
  revision: number;
  fromRevision: number | null;
  message: string;
  /** ISO time the event happened in the control plane. */
  at: string;
  /** `analysis`: the verdict. */
  decision?: 'promote' | 'abort';
  /** `succeeded`, `failed`, `rolled-back`: the deployment's final state. */
  state?: string;
}

/**
 * The notification an engine event makes, if any (pure). `lastVerdict` is the verdict already notified
 * for this deployment: a repeated one is not sent again. Analysis `wait` verdicts are not notified
 * (they change often and ask nothing of anyone); `waiting` is only for a promotion (not a rollback window).
 * A failed deploy sends `failed`, then `rolled-back` when the previous revision serves again.
 */
export function notificationsOf(
  run: DeployRun,
  e: DeployEvent,
  at: Date,
  lastVerdict: string | undefined,
): Notification[] {
  const base = {
    service: run.service,
    deployment: run.deployment,
    kind: run.kind,
    strategy: run.strategy,
    revision: run.revision,
    fromRevision: run.fromRevision,
    at: at.toISOString(),
  };
  const from = run.fromRevision === null ? '' : ` from revision ${run.fromRevision}`;
  switch (e.type) {
    case 'deployment':
      return [
        {
          event: 'started',
          ...base,
          message: `${run.kind} of ${run.service} to revision ${run.revision} started (${run.strategy}${from})`,
        },
      ];
    case 'waiting':
      return e.for === 'promotion' ? [{ event: 'waiting', ...base, message: e.message }] : [];
    case 'analysis':
      if (e.decision === 'wait' || e.decision === lastVerdict) return [];
      return [
        {
          event: 'analysis',
          ...base,
          decision: e.decision,
          message: `canary analysis of ${run.service} revision ${run.revision}: ${e.decision} (${e.reason})`,
        },
      ];
    case 'result': {
      if (e.ok) return [{ event: 'succeeded', ...base, state: e.state, message: e.message }];
      const failed: Notification = { event: 'failed', ...base, state: e.state, message: e.message };
      if (e.state !== 'rolled-back' || run.fromRevision === null) return [failed];
      return [
        failed,
        {
          event: 'rolled-back',
          ...base,
          state: e.state,
          message: `${run.service} is back on revision ${run.fromRevision}`,
        },
      ];
    }
    default:
      return [];
  }
}

/** Body of a Slack-compatible incoming webhook: one line of text. */
export function slackBody(n: Notification): { text: string } {
  return { text: `[baton] ${n.service} ${n.event}: ${n.message}` };
}
