import type { Logger } from 'pino';
import type { RouteStatus } from '../../router.js';
import { Behind } from './behind.js';
import type { FromSuccessor, ToSuccessor } from './predecessor.js';
import { ADMIN_PROTOCOL, PROXY_VERSION } from './protocol.js';

/** What the successor side of a handoff needs from the proxy it runs in. */
export interface Successor {
  readonly workerPids: number[];
  /** Publishes the admin socket and the pid file; the carried counters count from now on. */
  takeOver(carry: RouteStatus[]): Promise<void>;
  /** The predecessor's final counters (they only grow past those given at `takeOver`). */
  carryOver(carry: RouteStatus[]): void;
  /** From now on, admin changes are relayed to the predecessor, and drains wait for it too. */
  drainsBehind(behind: Behind): void;
}

/**
 * The successor's half of `handoff.ts`, once it serves: says `ready`, takes over on `commit`. If the
 * predecessor dies before committing, it takes over by itself: it already holds every listening socket
 * and the pid file names it, so it is the one proxy left.
 */
export function succeed(proxy: Successor, log: Logger): void {
  let committed: Promise<void> | undefined;
  const takeOver = (carry: RouteStatus[]): Promise<void> => {
    committed ??= proxy.takeOver(carry);
    return committed;
  };
  const behind = new Behind(send);
  process.on('message', (m: ToSuccessor) => {
    if (m.t === 'drained') behind.answered(m.seq, m.result);
    else if (m.t === 'commit') {
      takeOver(m.carry).then(
        () => {
          // The predecessor drains meanwhile: what it still carries follows this proxy's changes, and a
          // deploy's drain waits for what it has open too.
          proxy.drainsBehind(behind);
          send({ t: 'committed' });
        },
        (e: unknown) => {
          send({ t: 'failed', reason: `cannot take over: ${(e as Error).message}` });
          process.exit(1);
        },
      );
    } else if (m.t === 'final') proxy.carryOver(m.carry);
  });
  process.once('disconnect', () => {
    if (committed) return;
    log.warn('the proxy being replaced is gone before the handoff committed: taking over');
    takeOver([]).catch((e: unknown) => log.error({ err: e }, 'cannot take over'));
  });
  if (!process.connected) {
    log.warn('the proxy being replaced is gone before the handoff committed: taking over');
    takeOver([]).catch((e: unknown) => log.error({ err: e }, 'cannot take over'));
    return;
  }
  send({
    t: 'ready',
    pid: process.pid,
    version: PROXY_VERSION,
    protocol: ADMIN_PROTOCOL,
    workers: proxy.workerPids,
  });
}

/** Reports a failed start to the predecessor, then exits 1. */
export function failSuccession(reason: string): void {
  if (!process.connected) process.exit(1);
  process.send!({ t: 'failed', reason } satisfies FromSuccessor, undefined, {}, () => process.exit(1));
}

function send(m: FromSuccessor): void {
  if (process.connected) process.send!(m);
}
