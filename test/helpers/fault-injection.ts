import { readdirSync, readFileSync } from 'node:fs';
import { expect } from 'vitest';
import { type HelloFixture, type HelloSpec, helloFixture, writeHello } from './baton.js';
import { startLoad } from './load.js';
import { waitFor } from './wait.js';

/** Pids of every live process whose environment says it is an instance of `service`. */
export function instanceProcesses(service: string): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const env = readFileSync(`/proc/${entry}/environ`, 'utf8').split('\0');
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // Zombies are dead: their parent (the dead control plane) never reaped them.
      if (/^\d+ \(.*\) Z /.test(stat)) continue;
      if (env.includes(`BATON_SERVICE=${service}`)) out.push(Number(entry));
    } catch {}
  }
  return out.sort((a, b) => a - b);
}

/**
 * Waits until the live processes of `service` are exactly `pids`: an instance being stopped may take up
 * to its stopTimeout to exit, so one look could see it; one that never goes (an orphan, a duplicate)
 * fails after `timeoutMs`, showing the last difference.
 */
export async function expectOnlyProcesses(
  service: string,
  pids: number[],
  what: string,
  timeoutMs = 20_000,
): Promise<void> {
  const want = [...pids].sort((a, b) => a - b);
  let seen: number[] = [];
  try {
    await waitFor(
      () => {
        seen = instanceProcesses(service);
        return seen.join() === want.join();
      },
      { timeoutMs, intervalMs: 100, message: what },
    );
  } catch {
    expect(seen, `orphaned or duplicated instances ${what}`).toEqual(want);
  }
}

type Phase = 'begin' | 'done';

/**
 * The phases at which step `step` is killed. A kill point costs two restarts and a deploy (~7 s on a loaded
 * 2-core machine), so by default every step is killed at one of its two phases, alternating step by step,
 * and which of the two halves runs alternates by the UTC day, so consecutive runs cover every point.
 * BATON_CRASH_POINTS=all kills at both (the full tier); =odd or =even picks a half, to reproduce a run.
 */
export function crashPhases(step: number, env = process.env, now = Date.now()): Phase[] {
  const mode = env.BATON_CRASH_POINTS ?? (Math.floor(now / 86_400_000) % 2 === 0 ? 'even' : 'odd');
  if (mode === 'all') return ['begin', 'done'];
  if (mode !== 'even' && mode !== 'odd') {
    throw new Error(`BATON_CRASH_POINTS must be all, even or odd (got ${JSON.stringify(mode)})`);
  }
  return [(step + (mode === 'odd' ? 1 : 0)) % 2 === 0 ? 'begin' : 'done'];
}

/**
 * Kills the control plane with SIGKILL right after journaled steps of a deploy (see crashPhases for
 * which), restarts it, and checks that the service converges to exactly `replicas` healthy instances of
 * one revision, with no orphaned or duplicated process, and no failed request under load throughout.
 */
export async function killAtEveryStep(
  strategy: string,
  replicas = 2,
): Promise<{ points: number; steps: number }> {
  // Unique per run, so the process scan never counts another run's instances.
  const service = `crash-${strategy.match(/type: ([a-z-]+)/)![1]}-${Math.random().toString(36).slice(2, 8)}`;
  const spec = (version: string): Omit<HelloSpec, 'listen'> => ({ service, version, replicas, strategy });
  const f: HelloFixture = await helloFixture(spec('v0'));
  const load = startLoad(f.base, { rps: 100 });
  let points = 0;
  try {
    writeHello(f.ws, { ...spec('plan'), listen: f.port });
    const planned = JSON.parse((await f.cli(['plan', '-f', f.ws.specFile, '--json'])).stdout).plans[0].plan
      .steps.length as number;
    expect(planned).toBeGreaterThan(3);
    let version = 0;
    for (let step = 1; step <= planned; step++) {
      for (const phase of crashPhases(step)) {
        await f.restart('SIGTERM', { BATON_TEST_KILL_AT: `${step}:${phase}` });
        const r = await f.deploy(spec(`v${++version}`));
        // The control plane died under the deploy: the CLI reports the lost connection.
        expect(r.code, `kill at ${step}:${phase} did not happen: ${r.stderr}`).not.toBe(0);
        await waitFor(() => f.daemon.child.exitCode !== null || f.daemon.child.signalCode !== null, {
          message: 'the control plane to die',
        });
        await f.restart('SIGKILL');
        const converged = await waitFor(
          async () => {
            const s = await f.status();
            const ready = s.instances.filter(
              (i) => i.state === 'running' && i.routed === 'active' && i.healthy,
            );
            const one = new Set(s.instances.map((i) => i.revision)).size === 1;
            return !s.lock && s.instances.length === replicas && ready.length === replicas && one
              ? s
              : undefined;
          },
          { timeoutMs: 60_000, message: `${service} to converge after a kill at step ${step}:${phase}` },
        );
        await expectOnlyProcesses(
          service,
          converged.instances.map((i) => i.pid),
          `after a kill at ${step}:${phase}`,
        );
        points++;
      }
    }
    // Both ways out were taken: resumed forward after traffic had moved, rolled back before.
    const h = JSON.parse((await f.cli(['history', service, '--json', '--limit', '500'])).stdout) as {
      deployments: Array<{ state: string; kind: string }>;
    };
    const states = h.deployments.filter((d) => d.kind === 'deploy').map((d) => d.state);
    expect(states).toContain('succeeded');
    expect(states).toContain('rolled-back');
    expect(states.filter((x) => x !== 'succeeded' && x !== 'rolled-back')).toEqual([]);
    const report = await load.stop();
    expect(report.errors).toEqual([]);
    expect(report.failed).toBe(0);
    console.log(
      `${service}: killed at ${points} points over ${planned} steps (BATON_CRASH_POINTS=${process.env.BATON_CRASH_POINTS ?? `${crashPhases(1)[0] === 'done' ? 'odd' : 'even'} (by the day)`})`,
    );
    return { points, steps: planned };
  } finally {
    await load.stop();
    await f.close();
  }
}
