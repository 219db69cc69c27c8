import { BatonError, DriverError, UnavailableError } from '../../core/errors.js';

/** What the AWS SDK v3 throws: a ServiceException for an answer, a plain Error for a network failure. */
interface SdkError {
  name?: string;
  message?: string;
  $fault?: 'client' | 'server';
  $metadata?: { httpStatusCode?: number; requestId?: string };
}

/**
 * Error names AWS services use for throttling (ECS: ThrottlingException; ELBv2, a query API:
 * Throttling). They come with HTTP 400, so the status alone would miss them.
 */
const THROTTLING = new Set([
  'Throttling',
  'ThrottlingException',
  'ThrottledException',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'RequestThrottled',
  'RequestThrottledException',
  'SlowDown',
]);

/** The HTTP status of an AWS answer, when the error is one. */
export function awsStatus(err: unknown): number | undefined {
  const s = (err as SdkError | null)?.$metadata?.httpStatusCode;
  return typeof s === 'number' && s > 0 ? s : undefined;
}

export const awsErrorName = (err: unknown): string | undefined => (err as SdkError | null)?.name;

export const isThrottling = (err: unknown): boolean =>
  THROTTLING.has(awsErrorName(err) ?? '') || awsStatus(err) === 429;

/**
 * Translates what the SDK threw into Baton's errors where it enters a driver: an answer is a
 * DriverError with AWS's error name, message and request id (what AWS support asks for); no answer
 * at all (refused, reset, timed out after every retry) is an UnavailableError.
 */
export function translateAws(driver: string, doing: string, err: unknown): BatonError {
  if (err instanceof BatonError) return err;
  const e = err as SdkError | null;
  const status = awsStatus(err);
  if (status === undefined && e?.$fault === undefined)
    return new UnavailableError(`${driver}: ${doing}: AWS not reachable: ${e?.message ?? String(err)}`, err);
  const id = e?.$metadata?.requestId ? ` (request id ${e.$metadata.requestId})` : '';
  return new DriverError(
    driver,
    `${doing}: ${status ?? '?'} ${e?.name ?? 'Error'}: ${e?.message ?? ''}${id}`,
    err,
  );
}
