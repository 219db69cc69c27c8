/**
 * Hoist's per-instance state machine, as a pure table. The agent keeps one machine per instance slot
 * (service × index on the node); operators drive it with `baton transition`, the agent itself with the
 * same transitions (a failing probe asks for `restart`, a new desired revision for `update`) and with
 * `done` when a restart or an update finished.
 */
export const SlotState = {
  /** Running the desired revision (or trying to): probes, remediation and updates are on. */
  Run: 'RUN',
  /** Being restarted (under the restart governor). */
  Restart: 'RESTART',
  /** Being replaced by an instance of the desired revision (under the update governor). */
  Update: 'UPDATE',
  /** Stopped on purpose; left stopped until `restart`. */
  Stop: 'STOP',
  /** Left alone: no probe-driven restart, no update, no file restart, until `resume`. */
  Maintenance: 'MAINTENANCE',
} as const;
export type SlotState = (typeof SlotState)[keyof typeof SlotState];

/** What an operator (or the agent) may ask; `done` is internal: a restart or update finished. */
export const TRANSITIONS = ['stop', 'restart', 'update', 'maintenance', 'resume'] as const;
export type Transition = (typeof TRANSITIONS)[number];
export type MachineEvent = Transition | 'done';

export type Decision = { ok: true; to: SlotState } | { ok: false; reason: string };

const S = SlotState;
const busy = (what: string) => `the instance is ${what}; wait until it is back in RUN`;

/**
 * Every (state, event) pair. Rules:
 * - stop: from RUN, RESTART and UPDATE (an operation under way finishes its current step, then stops).
 *   Not from MAINTENANCE (resume first: maintenance means hands off) nor STOP.
 * - restart: from RUN, and from STOP (how a stopped instance is started again). Not while an operation
 *   is under way, not in MAINTENANCE.
 * - update: from RUN only.
 * - maintenance: from anything but STOP and MAINTENANCE; an operation under way finishes first.
 * - resume: from MAINTENANCE only, back to RUN (remediation and updates pick up from there).
 * - done: RESTART and UPDATE go back to RUN; anywhere else it changes nothing.
 */
const TABLE: Record<SlotState, Record<MachineEvent, SlotState | string>> = {
  [S.Run]: {
    stop: S.Stop,
    restart: S.Restart,
    update: S.Update,
    maintenance: S.Maintenance,
    resume: 'resume is only allowed from MAINTENANCE (the instance is in RUN)',
    done: S.Run,
  },
  [S.Restart]: {
    stop: S.Stop,
    restart: busy('restarting'),
    update: busy('restarting'),
    maintenance: S.Maintenance,
    resume: 'resume is only allowed from MAINTENANCE (the instance is restarting)',
    done: S.Run,
  },
  [S.Update]: {
    stop: S.Stop,
    restart: busy('updating'),
    update: busy('updating'),
    maintenance: S.Maintenance,
    resume: 'resume is only allowed from MAINTENANCE (the instance is updating)',
    done: S.Run,
  },
  [S.Stop]: {
    stop: 'the instance is already stopped',
    restart: S.Restart,
    update: 'the instance is stopped; restart it first',
    maintenance: 'the instance is stopped; restart it first',
    resume: 'the instance is stopped: resume is only allowed from MAINTENANCE; use restart',
    done: S.Stop,
  },
  [S.Maintenance]: {
    stop: 'the instance is in maintenance; resume it first',
    restart: 'the instance is in maintenance; resume it first',
    update: 'the instance is in maintenance; resume it first',
    maintenance: 'the instance is already in maintenance',
    resume: S.Run,
    done: S.Maintenance,
  },
};

const STATES = new Set<string>(Object.values(SlotState));

/** The state `event` leads to from `from`, or why it is refused. Pure. */
export function transition(from: SlotState, event: MachineEvent): Decision {
  const next = TABLE[from][event];
  return STATES.has(next) ? { ok: true, to: next as SlotState } : { ok: false, reason: next };
}

/** The transitions an operator may ask for in `state` (what `baton nodes` shows as available). */
export function available(state: SlotState): Transition[] {
  return TRANSITIONS.filter((t) => transition(state, t).ok);
}

export function isTransition(s: string): s is Transition {
  return (TRANSITIONS as readonly string[]).includes(s);
}
