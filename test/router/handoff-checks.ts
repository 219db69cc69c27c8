import { request as httpRequest } from 'node:http';
import { nodeMetrics } from '../../src/metrics/control-plane.js';
import type { TrafficReport } from './handoff-traffic.js';

/** Requests and streams that failed, and WebSockets the proxy cut. */
export const failed = (t: TrafficReport): number =>
  t.load.failed + (t.tls?.failed ?? 0) + (t.h2?.failed ?? 0) + t.slow.failed + t.ws.cut;

/** Every `baton_proxy_*` counter series of /metrics (as the control plane renders it), by series. */
export async function counters(dir: string): Promise<Map<string, number>> {
  const text = await nodeMetrics(dir, async () => []).scrape.render();
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^(baton_proxy_\w+(?:_total|_count|_sum))(\{[^}]*\})? (\S+)$/.exec(line);
    if (m) out.set(`${m[1]}${m[2] ?? ''}`, Number(m[3]));
  }
  return out;
}

/** The series that went backwards from `before` to `after` (a series may not disappear either). */
export function backwards(before: Map<string, number>, after: Map<string, number>): string[] {
  return [...before]
    .filter(([k, v]) => !((after.get(k) ?? -1) >= v))
    .map(([k, v]) => `${k}: ${v} -> ${after.get(k)}`);
}

/** GET on the proxy's HTTP listener: the 308 to https for the TLS service's host. */
export function redirectOf(port: number): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: '127.0.0.1', port, path: '/x', headers: { host: 'localhost' }, agent: false },
      (res) => {
        res.resume();
        resolve(res.statusCode === 308 ? res.headers.location : `status ${res.statusCode}`);
      },
    );
    req.on('error', reject);
    req.end();
  });
}
