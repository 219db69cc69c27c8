import { VERSION } from '../../../cli/version.js';
import { DriverError, UnavailableError } from '../../../core/errors.js';

/**
 * Version of the admin API and of the handoff between two proxies (`handoff.ts`). Raised whenever a
 * change would make an older or newer Baton misread it; a proxy speaking another number is never driven.
 * Proxies from before this number existed answer `/health` without it: protocol 0.
 */
export const ADMIN_PROTOCOL = 1;

/** The Baton version this proxy runs. */
export const PROXY_VERSION = VERSION;

export interface ProxyIdentity {
  pid: number;
  version?: string;
  protocol?: number;
}

/** Throws when the running proxy speaks another admin protocol, naming both versions. */
export function checkProtocol(running: ProxyIdentity, socket: string): void {
  const theirs = running.protocol ?? 0;
  if (theirs === ADMIN_PROTOCOL) return;
  throw new DriverError(
    'proxy',
    `the running proxy (pid ${running.pid}, Baton ${running.version ?? 'before 0.1.0'}, admin protocol ${theirs}) ` +
      `on ${socket} does not speak this Baton's admin protocol (Baton ${PROXY_VERSION}, protocol ${ADMIN_PROTOCOL}); ` +
      `it was left alone. Stop it with the Baton that started it (SIGTERM to pid ${running.pid}), then start again`,
  );
}

/** -1, 0 or 1 as semver `a` is older than, equal to or newer than `b` (pre-release tags ignored). */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('-')[0]!.split('.').map(Number);
  const pb = b.split('-')[0]!.split('.').map(Number);
  for (let i = 0; i < 3; i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return Math.sign(d);
  }
  return 0;
}

/** How a proxy that handed over refuses admin calls (the client calls the new one instead). */
export const HANDED_OVER = 'this proxy handed over to a new one';

export function handedOffError(): UnavailableError {
  return new UnavailableError(`${HANDED_OVER}: call again (admin.sock is the new proxy)`);
}
