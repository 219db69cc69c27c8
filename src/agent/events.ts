import { appendFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Logger } from 'pino';

/** What an agent did, one JSON line each in `<data-dir>/agent/events.jsonl` (tests and operators read it). */
export type AgentEvent =
  | { type: 'update.start'; service: string; slot: number; from: string; revision: number; lease: number }
  | { type: 'update.end'; service: string; slot: number; instance: string; revision: number; lease: number }
  | { type: 'update.failed'; service: string; slot: number; revision: number; reason: string }
  | { type: 'restart.start'; service: string; slot: number; instance: string; why: string }
  | { type: 'restart.end'; service: string; slot: number; instance: string; healthy: boolean }
  | { type: 'revert'; service: string; from: number; to: number; reason: string }
  | { type: 'state'; service: string; slot: number; from: string; to: string; why: string }
  | { type: 'started'; service: string; slot: number; instance: string; revision: number; healthy: boolean }
  | { type: 'retired'; service: string; instance: string; why: string }
  | { type: 'desired'; service: string; revision: number }
  /** This agent recorded that every node runs `revision` (revision statuses written). */
  | { type: 'converged'; service: string; revision: number }
  /** An update ran longer than its governor lease: another agent may have taken the freed slot. */
  | {
      type: 'lease.overrun';
      service: string;
      holder: string;
      governor: string;
      lease: number;
      expiryMs: number;
    };

export type Emit = (e: AgentEvent) => void;

export function eventLog(file: string, node: string, logger: Logger): Emit {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  return (e) => {
    const line = { at: new Date().toISOString(), ms: Date.now(), node, ...e };
    // Synchronous and small: the order of lines is the order of events, also across a crash.
    appendFileSync(file, `${JSON.stringify(line)}\n`, { mode: 0o600 });
    logger.info(line, e.type);
  };
}
