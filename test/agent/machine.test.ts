import { describe, expect, it } from 'vitest';
import { available, type MachineEvent, SlotState, transition } from '../../src/agent/machine.js';

const { Run: RUN, Restart: RESTART, Update: UPDATE, Stop: STOP, Maintenance: MAINT } = SlotState;

/** Every state × event: the state it leads to, or null when refused. */
const EXPECTED: Record<SlotState, Record<MachineEvent, SlotState | null>> = {
  RUN: { stop: STOP, restart: RESTART, update: UPDATE, maintenance: MAINT, resume: null, done: RUN },
  RESTART: { stop: STOP, restart: null, update: null, maintenance: MAINT, resume: null, done: RUN },
  UPDATE: { stop: STOP, restart: null, update: null, maintenance: MAINT, resume: null, done: RUN },
  STOP: { stop: null, restart: RESTART, update: null, maintenance: null, resume: null, done: STOP },
  MAINTENANCE: { stop: null, restart: null, update: null, maintenance: null, resume: RUN, done: MAINT },
};

describe('slot state machine', () => {
  for (const [from, row] of Object.entries(EXPECTED) as [
    SlotState,
    Record<MachineEvent, SlotState | null>,
  ][]) {
    for (const [event, to] of Object.entries(row) as [MachineEvent, SlotState | null][]) {
      it(`${from} --${event}--> ${to ?? 'refused'}`, () => {
        const d = transition(from, event);
        if (to === null) {
          expect(d.ok).toBe(false);
          // A refusal says why, in words an operator can act on.
          expect(d.ok ? '' : d.reason).toMatch(/resume|restart|already|wait|only/);
        } else expect(d).toEqual({ ok: true, to });
      });
    }
  }

  it('lists what an operator may ask in each state', () => {
    expect(available(RUN)).toEqual(['stop', 'restart', 'update', 'maintenance']);
    expect(available(STOP)).toEqual(['restart']);
    expect(available(MAINT)).toEqual(['resume']);
    expect(available(UPDATE)).toEqual(['stop', 'maintenance']);
  });
});
