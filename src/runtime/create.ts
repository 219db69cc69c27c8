import path from 'node:path';
import type { Logger } from 'pino';
import { DriverError } from '../core/errors.js';
import { ProcessRuntime } from './process/process-runtime.js';
import type { Runtime } from './runtime.js';

export const RUNTIME_KINDS = ['process'] as const;

/** The runtime named by a service's `runtime` field, keeping its state under `dataDir`. */
export function createRuntime(
  kind: string,
  opts: { dataDir: string; logger?: Logger; host?: string },
): Runtime {
  switch (kind) {
    case 'process':
      return new ProcessRuntime({
        stateDir: path.join(opts.dataDir, 'instances'),
        logDir: path.join(opts.dataDir, 'logs'),
        ...(opts.logger ? { logger: opts.logger } : {}),
        ...(opts.host ? { host: opts.host } : {}),
      });
    default:
      throw new DriverError(
        'runtime',
        `unknown runtime ${JSON.stringify(kind)}; known: ${RUNTIME_KINDS.join(', ')}`,
      );
  }
}
