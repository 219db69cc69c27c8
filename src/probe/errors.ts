import { formatDuration } from '../core/duration.js';

/** Turns a socket or spawn error into a short phrase: `connection refused`, `host not found`. */
export function describeNetError(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case 'ECONNREFUSED':
      return 'connection refused';
    case 'ECONNRESET':
      return 'connection reset';
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return 'host unreachable';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'host not found';
    case 'ETIMEDOUT':
      return 'connect timed out';
    default:
      return (err as Error | undefined)?.message ?? String(err);
  }
}

/** Why a probe was cut short: `timed out after 1s` or `aborted`. */
export class ProbeAbort extends Error {
  constructor(readonly timeoutMs?: number) {
    super(timeoutMs === undefined ? 'aborted' : `timed out after ${formatDuration(timeoutMs)}`);
    this.name = 'ProbeAbort';
  }
}
