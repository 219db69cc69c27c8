import type { ChildProcess } from 'node:child_process';
import type { Logger } from 'pino';
import type { DrainResult } from '../../router.js';
import type { Change } from '../ops.js';
import type { FromSuccessor, ToSuccessor } from './link.js';

/**
 * Changes the successor relays to the predecessor while that one drains: those that decide where the
 * requests it still carries go — a request it holds (`hold` mode) is released to the instances the
 * successor switched to, as if no handoff had happened. Listeners, previews and challenges are not
 * relayed (the predecessor accepts nothing new), nor removals: a removed instance was drained as the
 * successor saw it, and a request the predecessor still has on it finishes rather than being cut.
 */
export const RELAYED: ReadonlySet<Change['op']> = new Set([
  'addBackends',
  'switchTo',
  'drain',
  'setHealthy',
  'setSplit',
  'setMode',
]);

/** What of the predecessor answers its successor. */
export interface Answering {
  log: Logger;
  applyRelayed(change: Change): Promise<void>;
  waitDrained(service: string, ids: string[], timeoutMs: number): Promise<DrainResult>;
}

/** While this proxy drains: the successor's relayed changes, and its questions on what is open here. */
export function answerSuccessor(p: Answering, child: ChildProcess, m: FromSuccessor): void {
  if (m.t === 'change' && RELAYED.has(m.change.op))
    p.applyRelayed(m.change).catch((e: unknown) =>
      p.log.warn({ err: e, change: m.change.op }, 'a change relayed by the new proxy failed here'),
    );
  if (m.t === 'wait')
    void p
      .waitDrained(m.service, m.ids, m.timeoutMs)
      .catch((): DrainResult => ({ drained: false, inFlight: 0, waitedMs: 0 }))
      .then((result) => {
        if (child.connected) child.send({ t: 'drained', seq: m.seq, result } satisfies ToSuccessor);
      });
}
