import type { DrainResult } from '../../router.js';
import type { Change } from '../ops.js';
import type { FromSuccessor } from './link.js';

/** How long past the caller's timeout an answer of the predecessor is waited for. */
const ANSWER_GRACE_MS = 5000;

/**
 * The proxy draining behind a successor that took over, as the successor sees it over their IPC channel
 * (the successor's `process`): it is given the successor's route changes (`RELAYED` in `relay.ts`), and
 * asked how much is still open on instances being drained — a deploy must not stop an instance the old
 * proxy still carries requests to. Once the predecessor has exited (the channel is closed), it carries
 * nothing.
 */
export class Behind {
  private seq = 0;
  private readonly waiting = new Map<number, (r: DrainResult | undefined) => void>();

  constructor(private readonly send: (m: FromSuccessor) => void) {
    process.once('disconnect', () => {
      for (const done of this.waiting.values()) done(undefined);
      this.waiting.clear();
    });
  }

  relay(change: Change): void {
    this.send({ t: 'change', change });
  }

  /** Its answer to `waitDrained`; undefined once it is gone (nothing open there). */
  waitDrained(service: string, ids: string[], timeoutMs: number): Promise<DrainResult | undefined> {
    if (!process.connected) return Promise.resolve(undefined);
    const seq = ++this.seq;
    return new Promise((resolve) => {
      // No answer: it may still carry something, so not drained (the deploy reports the drain timeout).
      const timer = setTimeout(
        () => done({ drained: false, inFlight: 0, waitedMs: timeoutMs }),
        timeoutMs + ANSWER_GRACE_MS,
      );
      const done = (r: DrainResult | undefined): void => {
        clearTimeout(timer);
        this.waiting.delete(seq);
        resolve(r);
      };
      this.waiting.set(seq, done);
      this.send({ t: 'wait', seq, service, ids, timeoutMs });
    });
  }

  answered(seq: number, result: DrainResult): void {
    this.waiting.get(seq)?.(result);
  }
}

/** A drain seen by two proxies at once: drained when both are. */
export function bothDrained(own: DrainResult, theirs: DrainResult | undefined): DrainResult {
  if (!theirs) return own;
  return {
    drained: own.drained && theirs.drained,
    inFlight: own.inFlight + theirs.inFlight,
    waitedMs: Math.max(own.waitedMs, theirs.waitedMs),
  };
}
