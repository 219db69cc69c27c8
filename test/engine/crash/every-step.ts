import { expect } from 'vitest';
import type { ServiceSpec } from '../../../src/spec/schema.js';
import { type CloudDrivers, ControlPlane } from './control-plane.js';
import type { DiesAfter } from './mortal.js';

/** A cloud behind fakes, seen by control planes that come and go over one data dir. */
export interface CloudWorld {
  dataDir: string;
  drivers: CloudDrivers;
  service: string;
  replicas: number;
  spec(version: string): ServiceSpec;
  /**
   * From the fake's own state: exactly one set serves — `replicas` instances of `revision`, each behind
   * the load balancer and taking traffic — and nothing else Baton made is left (no other instance,
   * backend, target, service, task definition in use), and no resource was made twice.
   */
  check(revision: number, where: string): Promise<void>;
}

export type KillPoint = { step: number; phase: 'begin' | 'done' } | { after: DiesAfter; name: string };

const describe = (k: KillPoint) => ('name' in k ? k.name : `step ${k.step}:${k.phase}`);

/**
 * A fresh control plane over the dead one's data dir recovers (the daemon's start), and the world is
 * checked: the interrupted deployment ended (went forward or rolled back, per the engine's rule), the
 * serving revision and history agree with it, the engine's view agrees with the cloud, no lock is left.
 */
export async function recoverAndCheck(
  w: CloudWorld,
  dead: ControlPlane,
  where: string,
): Promise<{ cp: ControlPlane; state: string }> {
  await dead.close();
  const cp = await ControlPlane.start(w.dataDir, w.drivers);
  await cp.recover();
  const { repo, runtime, router } = cp.deps;
  const d = (await repo.listDeployments(w.service, { limit: 1 }))[0]!;
  expect(d.state, `${where}: the interrupted deployment's state (${d.error ?? ''})`).toMatch(
    /^(succeeded|rolled-back)$/,
  );
  const serving = d.state === 'succeeded' ? d.toRevision : d.fromRevision!;
  expect((await repo.getService(w.service))?.current, `${where}: current revision`).toBe(serving);
  expect((await repo.getRevision(w.service, d.toRevision))?.status, `${where}: target's status`).toBe(
    d.state === 'succeeded' ? 'active' : 'failed',
  );
  if (d.state === 'rolled-back') expect(d.error, where).toMatch(/interrupted/);
  await w.check(serving, where);
  const instances = await runtime.list(w.service);
  expect(
    instances.map((i) => [i.revision, i.state]),
    `${where}: instances the engine sees`,
  ).toEqual(Array.from({ length: w.replicas }, () => [serving, 'running']));
  const route = await router.status(w.service);
  expect(route?.backends.map((b) => [b.id, b.state]).sort(), `${where}: the router's backends`).toEqual(
    instances.map((i) => [i.id, 'active']).sort(),
  );
  expect(await repo.getLock(w.service), `${where}: the deploy lock`).toBeUndefined();
  return { cp, state: d.state };
}

/**
 * Kills the control plane at each point in turn while it deploys the next version, recovers with a new
 * one, checks the world, and deploys on from there (so every recovery is followed by a deploy that must
 * work). `points: 'journal'` kills right after every journal entry of the deploy (each step's begin and
 * done) until a deploy runs to its end without reaching the point. Returns how each recovery ended.
 */
export async function crashAt(
  w: CloudWorld,
  points: 'journal' | KillPoint[],
): Promise<{ outcomes: Array<{ at: string; state: string }> }> {
  let cp = await ControlPlane.start(w.dataDir, w.drivers);
  let version = 1;
  try {
    expect(await cp.deploy(w.service, w.spec('v1'))).toMatchObject({ ok: true });
    await w.check(1, 'the first deploy');
    const outcomes: Array<{ at: string; state: string }> = [];
    const list: Iterable<KillPoint> =
      points === 'journal'
        ? (function* () {
            for (let step = 1; ; step++)
              for (const phase of ['begin', 'done'] as const) yield { step, phase };
          })()
        : points;
    for (const point of list) {
      const at = describe(point);
      const r = await cp.deployAndDie(w.service, w.spec(`v${++version}`), point);
      if (r !== 'died') {
        // The deploy ended without reaching the point: past the last step.
        expect(r, `the deploy that was to die at ${at}`).toMatchObject({ ok: true });
        expect(points, `${at} was never reached`).toBe('journal');
        await w.check(r.revision, `a deploy that ran past ${at}`);
        break;
      }
      const next = await recoverAndCheck(w, cp, `killed at ${at} (${cp.mortal.at})`);
      cp = next.cp;
      outcomes.push({ at, state: next.state });
    }
    // And the next deploy works.
    const last = await cp.deploy(w.service, w.spec(`v${++version}`));
    expect(last, 'the deploy after the last recovery').toMatchObject({ ok: true });
    await w.check(last.revision, 'the deploy after the last recovery');
    return { outcomes };
  } finally {
    await cp.close();
  }
}
