import { BatonError } from '../core/errors.js';
import type { CertInfo } from './cert-files.js';

/** The CA refused or failed an order; `message` is the CA's. `retryAfterSec` when it asked us to wait. */
export class CertIssueError extends BatonError {
  readonly retryAfterSec: number | undefined;
  constructor(host: string, message: string, retryAfterSec: number | undefined, cause?: unknown) {
    super('DRIVER', `certificate for ${host}: ${message}`, {
      cause,
      exitCode: 1,
      details: { host, ...(retryAfterSec !== undefined ? { retryAfterSec } : {}) },
    });
    this.retryAfterSec = retryAfterSec;
  }
}

/** Obtains one certificate for one host name. */
export interface Issuer {
  issue(host: string): Promise<CertInfo>;
}
