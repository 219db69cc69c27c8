import type { ProbeResult } from '../core/types.js';
import type { ProbeSpec } from '../spec/schema.js';
import { ProbeAbort } from './errors.js';
import { execProbe } from './exec.js';
import { httpProbe } from './http.js';
import { tcpProbe } from './tcp.js';

export interface ProbeTarget {
  host: string;
  port: number;
  /** Extra environment for `exec` probes (the instance's env); `PORT` and `HOST` are always set. */
  env?: Record<string, string>;
}

/**
 * Runs one health check against an instance, within `spec.timeout`. Never throws: a failure, a timeout
 * or an abort is a result with `ok: false` and a short, printable `detail`.
 */
export async function runProbe(
  spec: ProbeSpec,
  target: ProbeTarget,
  signal?: AbortSignal,
): Promise<ProbeResult> {
  const started = performance.now();
  const ms = () => Math.round(performance.now() - started);
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new ProbeAbort(spec.timeout)), spec.timeout);
  const onAbort = () => controller.abort(new ProbeAbort());
  if (signal?.aborted) onAbort();
  else signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const result = spec.http
      ? await httpProbe(spec.http, target, controller.signal)
      : spec.exec
        ? await execProbe(spec.exec, target, controller.signal)
        : await tcpProbe(target, controller.signal);
    return { ...result, ms: ms() };
  } catch (err) {
    const reason = controller.signal.reason;
    const detail =
      reason instanceof ProbeAbort ? reason.message : err instanceof Error ? err.message : String(err);
    return { ok: false, detail, ms: ms() };
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener('abort', onAbort);
  }
}
