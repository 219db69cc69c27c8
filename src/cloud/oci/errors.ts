import { BatonError, DriverError, UnavailableError } from '../../core/errors.js';

/** What the OCI SDK throws: an `OciError` for an answer, a plain object or Error for a network failure. */
interface SdkError {
  statusCode?: number;
  serviceCode?: string;
  message?: string;
  opcRequestId?: string | null;
  code?: string | number;
}

/** The HTTP status of an OCI answer, when the error is one. */
export const ociStatus = (err: unknown): number | undefined => {
  const s = (err as SdkError | null)?.statusCode;
  return typeof s === 'number' && s > 0 ? s : undefined;
};

/**
 * Translates what the SDK threw into Baton's errors where it enters a driver: an answer is a
 * DriverError with OCI's status, service code, message and opc-request-id (what Oracle support asks
 * for); no answer at all (refused, timed out after every retry) is an UnavailableError.
 */
export function translateOci(driver: string, doing: string, err: unknown): BatonError {
  if (err instanceof BatonError) return err;
  const e = err as SdkError | null;
  const status = ociStatus(err);
  if (status === undefined)
    return new UnavailableError(`${driver}: ${doing}: OCI not reachable: ${e?.message ?? String(err)}`, err);
  const id = e?.opcRequestId ? ` (opc-request-id ${e.opcRequestId})` : '';
  return new DriverError(
    driver,
    `${doing}: ${status} ${e?.serviceCode ?? ''}: ${e?.message ?? ''}${id}`,
    err,
  );
}

/** Runs one SDK call, translating what it throws. */
export async function ociCall<T>(driver: string, doing: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw translateOci(driver, doing, err);
  }
}

/** Like `ociCall`, but a 404 is `undefined` (gone, or not created yet). */
export async function ociFind<T>(
  driver: string,
  doing: string,
  fn: () => Promise<T>,
): Promise<T | undefined> {
  try {
    return await fn();
  } catch (err) {
    if (ociStatus(err) === 404) return undefined;
    throw translateOci(driver, doing, err);
  }
}
