import type { ServerResponse } from 'node:http';
import { BatonError } from '../core/errors.js';
import { ndjson } from './http.js';

/** Runs a deploy-like job, streaming its events; errors after the first event become the result line. */
export async function stream(
  res: ServerResponse,
  job: (emit: (e: unknown) => void) => Promise<unknown>,
): Promise<void> {
  const out = ndjson(res);
  try {
    await job(out.write);
  } catch (err) {
    if (!out.started) throw err;
    out.write({
      type: 'result',
      ok: false,
      message: err instanceof Error ? err.message : String(err),
      error: errorJson(err),
    });
  }
  res.end();
}

function errorJson(err: unknown): Record<string, unknown> {
  return err instanceof BatonError
    ? err.toJSON()
    : { code: 'DRIVER', message: err instanceof Error ? err.message : String(err) };
}
