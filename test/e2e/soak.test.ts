import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/baton.js';

interface SoakSummary {
  deploys: number;
  deployFailures: number;
  requests: number;
  failed: number;
  failures: unknown[];
  byKind: Record<string, { sent: number; reused: number }>;
  reusedAfterIdle: number;
  reusedAfterIdleMaxMs: number;
  seconds: number;
}

/**
 * The bounded soak (bench/soak.mjs, as a user runs it): rolling deploys of examples/hello (three services,
 * so three deploy loops run side by side) under mixed load — Node agent and undici keep-alive, new
 * connections, 2 s requests, WebSockets, and keep-alive clients that reuse their socket after idling
 * 5–6.5 s, past the proxy's old keep-alive timeout (announced 5 s, closed at 6 s by Node 20). Not one
 * request may fail. (`python3 -m http.server` is left to the bench runs: its listen backlog of 5 drops
 * connections when a loaded machine bursts them, through HAProxy as through the proxy — BENCHMARKS.md.)
 */
describe('soak: 100 rolling deploys under 50,000 requests', () => {
  it('fails no request, and idle keep-alive sockets are reused after more than 6 s', async () => {
    const out = await new Promise<string>((resolve, reject) => {
      const child = spawn(
        process.execPath,
        [
          join(ROOT, 'bench', 'soak.mjs'),
          ...[
            '--deploys',
            '100',
            '--min-requests',
            '50000',
            '--rps',
            '700',
            '--apps',
            'hello',
            '--copies',
            '3',
          ],
          '--json',
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => {
        stdout += d;
      });
      child.stderr.setEncoding('utf8').on('data', (d: string) => {
        stderr = (stderr + d).slice(-20_000);
      });
      child.on('error', reject);
      child.on('exit', (code) => {
        if (!stdout.includes('SOAK_JSON '))
          reject(new Error(`soak exited with ${code}:\n${stdout}\n${stderr}`));
        else resolve(stdout);
      });
    });
    const line = out.split('\n').find((l) => l.startsWith('SOAK_JSON '))!;
    const r = JSON.parse(line.slice('SOAK_JSON '.length)) as SoakSummary;
    // The records first: when this fails, they say what failed, when, on which socket, in which step.
    expect(r.failures).toEqual([]);
    expect(r.failed).toBe(0);
    expect(r.deployFailures).toBe(0);
    expect(r.deploys).toBeGreaterThanOrEqual(100);
    expect(r.requests).toBeGreaterThanOrEqual(50_000);
    for (const kind of ['agent', 'undici', 'fresh', 'slow', 'idle', 'ws'])
      expect(r.byKind[kind]?.sent, kind).toBeGreaterThan(0);
    expect(r.byKind.agent!.reused).toBeGreaterThan(0);
    expect(r.byKind.undici!.reused).toBeGreaterThan(0);
    // With the old 5 s timeout these sockets were closed by the proxy before they could be reused.
    expect(r.reusedAfterIdle).toBeGreaterThan(0);
    expect(r.reusedAfterIdleMaxMs).toBeGreaterThan(6000);
  }, 1_200_000);
});
