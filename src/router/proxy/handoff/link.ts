import type { ChildProcess } from 'node:child_process';
import type { DrainResult, RouteStatus } from '../../router.js';
import type { Change } from '../ops.js';

/**
 * The IPC channel between a proxy and the successor it started (`predecessor.ts`): the messages each
 * way, and the successor's messages and exit read in order, each wait bounded.
 */

/** Predecessor → successor. */
export type ToSuccessor =
  | { t: 'commit'; carry: RouteStatus[] }
  | { t: 'final'; carry: RouteStatus[] }
  /** The predecessor's answer to a `wait`. */
  | { t: 'drained'; seq: number; result: DrainResult };

/** Successor → predecessor. */
export type FromSuccessor =
  | { t: 'ready'; pid: number; version: string; protocol: number; workers: number[] }
  | { t: 'failed'; reason: string }
  | { t: 'committed' }
  /** A change the successor applied after it took over (see `relay.ts`). */
  | { t: 'change'; change: Change }
  /** How much the predecessor still has open on these instances (see `Behind`). */
  | { t: 'wait'; seq: number; service: string; ids: string[]; timeoutMs: number };

export function finish(child: ChildProcess, carry: RouteStatus[]): Promise<void> {
  return new Promise((resolve) => {
    if (!child.connected) return resolve();
    child.send({ t: 'final', carry } satisfies ToSuccessor, () => {
      if (child.connected) child.disconnect();
      resolve();
    });
  });
}

export type Outcome = FromSuccessor | { t: 'exit'; why: string } | { t: 'late' };

/** The successor's messages and exit, in order. */
export class Link {
  private readonly queue: Outcome[] = [];
  private wake: (() => void) | undefined;
  exited = false;

  constructor(private readonly child: ChildProcess) {
    // Relayed changes and drain questions are answered by the handoff itself (`predecessor.ts`).
    child.on('message', (m: FromSuccessor) => {
      if (m.t !== 'change' && m.t !== 'wait') this.push(m);
    });
    child.once('error', (e) => this.push({ t: 'exit', why: `could not be reached (${e.message})` }));
    child.once('exit', (code, signal) => {
      this.exited = true;
      this.push({ t: 'exit', why: signal ? `was killed by ${signal}` : `exited with code ${code}` });
    });
  }

  private push(o: Outcome): void {
    this.queue.push(o);
    this.wake?.();
  }

  async next(timeoutMs: number): Promise<Outcome> {
    if (this.queue.length === 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          this.queue.push({ t: 'late' });
          resolve();
        }, timeoutMs);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = undefined;
    }
    return this.queue.shift()!;
  }

  send(m: ToSuccessor): void {
    if (this.child.connected) this.child.send(m);
  }
}

export function reason(o: Outcome, deadlineMs: number, before = 'before it was ready'): string {
  if (o.t === 'failed') return o.reason;
  if (o.t === 'exit') return `it ${o.why} ${before}`;
  if (o.t === 'late') return `it did not answer within ${deadlineMs} ms`;
  return `unexpected message ${o.t}`;
}
