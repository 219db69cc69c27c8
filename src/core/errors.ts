/**
 * The few named errors Baton raises. Each has a stable `code` (for `--json` output and the API),
 * a user-facing message, an optional cause, and the process exit code a CLI command ends with.
 * Vendor errors are translated into these where they enter a driver.
 */
export type ErrorCode =
  | 'SPEC_INVALID'
  | 'BAD_INPUT'
  | 'CONFLICT'
  | 'NOT_FOUND'
  | 'LOCK_HELD'
  | 'DEPLOY_FAILED'
  | 'DRIVER'
  | 'UNAVAILABLE'
  | 'UNAUTHORIZED'
  | 'FORBIDDEN'
  | 'RATE_LIMITED';

export class BatonError extends Error {
  readonly code: ErrorCode;
  readonly exitCode: number;
  readonly details: Record<string, unknown> | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    opts: { cause?: unknown; exitCode?: number; details?: Record<string, unknown> } = {},
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = new.target.name;
    this.code = code;
    this.exitCode = opts.exitCode ?? 1;
    this.details = opts.details;
  }

  toJSON(): Record<string, unknown> {
    return { code: this.code, message: this.message, ...(this.details ? { details: this.details } : {}) };
  }
}

/** One problem found in a spec file: where it is and what was wrong. */
export interface SpecIssue {
  file: string;
  line: number;
  column: number;
  /** Dotted field path, e.g. `services.web.probe.interval`. Empty for file-level problems. */
  path: string;
  message: string;
}

export function formatIssue(i: SpecIssue): string {
  return `${i.file}:${i.line}:${i.column}: ${i.path ? `${i.path}: ` : ''}${i.message}`;
}

/** Invalid input (baton.yaml, flags). Exit code 2; nothing was changed. */
export class SpecError extends BatonError {
  readonly issues: SpecIssue[];
  constructor(issues: SpecIssue[]) {
    super('SPEC_INVALID', issues.map(formatIssue).join('\n'), { exitCode: 2, details: { issues } });
    this.issues = issues;
  }
}

/** Bad input that is not a spec file: an unknown service, a malformed flag. Exit code 2. */
export class InputError extends BatonError {
  constructor(message: string, details?: Record<string, unknown>) {
    super('BAD_INPUT', message, { exitCode: 2, ...(details ? { details } : {}) });
  }
}

/** A compare-and-set write lost: somebody else wrote first. */
export class ConflictError extends BatonError {
  constructor(key: string, expected: number | null, actual: number | null) {
    super(
      'CONFLICT',
      `write to ${key} expected revision ${expected ?? 'none'} but found ${actual ?? 'none'}`,
      {
        details: { key, expected, actual },
      },
    );
  }
}

export class NotFoundError extends BatonError {
  constructor(what: string) {
    super('NOT_FOUND', `${what} not found`, { exitCode: 2 });
  }
}

/** Another deploy holds the service's lock. */
export class LockHeldError extends BatonError {
  constructor(service: string, holder: { holder: string; since: string; deployment?: string | undefined }) {
    super(
      'LOCK_HELD',
      `service ${service} is locked by ${holder.holder} since ${holder.since}${holder.deployment ? ` (deployment ${holder.deployment})` : ''}`,
      { details: { service, ...holder } },
    );
  }
}

/** A deploy failed and was rolled back; the previous revision is serving. Exit code 1. */
export class DeployFailedError extends BatonError {
  constructor(message: string, details?: Record<string, unknown>) {
    super('DEPLOY_FAILED', message, { exitCode: 1, ...(details ? { details } : {}) });
  }
}

/** A runtime, router, store or probe could not do what was asked. */
export class DriverError extends BatonError {
  constructor(driver: string, message: string, cause?: unknown) {
    super('DRIVER', `${driver}: ${message}`, { cause });
  }
}

/** The control plane or proxy could not be reached. */
export class UnavailableError extends BatonError {
  constructor(message: string, cause?: unknown) {
    super('UNAVAILABLE', message, { cause, exitCode: 3 });
  }
}

/**
 * The API refused the caller: no valid token (UNAUTHORIZED), a token whose role or service scope does
 * not allow the request (FORBIDDEN), or too many failed authentications (RATE_LIMITED). Exit code 3, as for a control plane that cannot
 * be reached: nothing was done, and it is not the input that is wrong.
 */
export class AccessError extends BatonError {
  constructor(
    code: 'UNAUTHORIZED' | 'FORBIDDEN' | 'RATE_LIMITED',
    message: string,
    details?: Record<string, unknown>,
  ) {
    super(code, message, { exitCode: 3, ...(details ? { details } : {}) });
  }
}

export function isBatonError(e: unknown): e is BatonError {
  return e instanceof BatonError;
}
