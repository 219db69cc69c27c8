import http from 'node:http';
import type { ProbeSpec } from '../spec/schema.js';
import { describeNetError } from './errors.js';

export type HttpProbeSpec = NonNullable<ProbeSpec['http']>;

/**
 * One GET without connection pooling (`agent: false`): a pooled socket could hide a dead listener.
 * Healthy when the status equals `spec.status`. Resolves with a short detail; rejects only on abort.
 */
export function httpProbe(
  spec: HttpProbeSpec,
  target: { host: string; port: number },
  signal: AbortSignal,
): Promise<{ ok: boolean; detail: string }> {
  return new Promise((resolve, reject) => {
    const what = `GET ${spec.path}`;
    const req = http.request({
      host: target.host,
      port: target.port,
      path: spec.path,
      method: 'GET',
      agent: false,
      headers: { 'user-agent': 'baton-probe', ...(spec.host ? { host: spec.host } : {}) },
      signal,
    });
    req.on('response', (res) => {
      const status = res.statusCode ?? 0;
      const ok = status === spec.status;
      const detail = `HTTP ${status} from ${what}${ok ? '' : ` (expected ${spec.status})`}`;
      // Read the body to its end so the app sees a complete exchange, then report.
      res.resume();
      res.on('end', () => resolve({ ok, detail }));
      res.on('close', () => (signal.aborted ? reject(signal.reason) : resolve({ ok, detail })));
    });
    req.on('error', (err) => {
      if (signal.aborted) reject(signal.reason);
      else resolve({ ok: false, detail: describeNetError(err) });
    });
    req.end();
  });
}
