import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/wait.js';
import { ControlPlane } from './crash/control-plane.js';
import { crashAt, type KillPoint, recoverAndCheck } from './crash/every-step.js';
import { ociWorld } from './crash/oci-world.js';

/**
 * Issue 6: a cloud deploy interrupted mid-way is recovered through the engine's journal. The control
 * plane (store, drivers, OCI clients) dies right after each journal entry of a deploy, or in the middle
 * of one of OCI's long waits; a new one over the same data dir and the same OCI recovers it (forward
 * once traffic moved, else back: onInterrupt auto) with exactly one set serving, nothing orphaned,
 * nothing created twice, and the next deploy works.
 */
describe('engine × oci × oci-lb: the control plane dies in the middle of a deploy', () => {
  let env: Awaited<ReturnType<typeof ociWorld>> | undefined;
  afterEach(async () => {
    await env?.close();
    env = undefined;
  });

  const bothWays = (outcomes: Array<{ state: string }>) =>
    expect(new Set(outcomes.map((o) => o.state))).toEqual(new Set(['succeeded', 'rolled-back']));

  it('replace, 2 replicas: at every journaled step', async () => {
    env = await ociWorld({ strategy: { type: 'replace' } });
    const { outcomes } = await crashAt(env.world, 'journal');
    expect(outcomes.length).toBeGreaterThanOrEqual(10);
    bothWays(outcomes);
  }, 300_000);

  it('canary 10 % → 50 %, 2 replicas: at every journaled step', async () => {
    env = await ociWorld({ strategy: { type: 'canary', steps: [{ setWeight: 10 }, { setWeight: 50 }] } });
    const { outcomes } = await crashAt(env.world, 'journal');
    expect(outcomes.length).toBeGreaterThanOrEqual(14);
    bothWays(outcomes);
  }, 300_000);

  it('rolling (maxSurge 1, maxUnavailable 0), 2 replicas: at every journaled step', async () => {
    env = await ociWorld({ strategy: { type: 'rolling', maxSurge: 1, maxUnavailable: 0 } });
    const { outcomes } = await crashAt(env.world, 'journal');
    expect(outcomes.length).toBeGreaterThanOrEqual(14);
    bothWays(outcomes);
  }, 300_000);

  it('blue-green, 2 replicas: at every journaled step', async () => {
    env = await ociWorld({ strategy: { type: 'blue-green', autoPromote: '0s', scaleDownDelay: '0s' } });
    const { outcomes } = await crashAt(env.world, 'journal');
    expect(outcomes.length).toBeGreaterThanOrEqual(10);
    bothWays(outcomes);
  }, 300_000);

  it('replace with 30 % of OCI calls failing (429 with Retry-After, 500): at every journaled step', async () => {
    env = await ociWorld({ strategy: { type: 'replace' } });
    env.fake.inject({ rate: 0.3, seed: 6 });
    const { outcomes } = await crashAt(env.world, 'journal');
    expect(outcomes.length).toBeGreaterThanOrEqual(10);
    bothWays(outcomes);
    expect(env.fake.calls.filter((c) => c.fault).length).toBeGreaterThan(50);
  }, 300_000);

  /** Dies right after the `n`th answer to `method` for which `when` holds (the answer is lost). */
  const dieAfter = (name: string, method: string, n = 1, when: (r: unknown) => boolean = () => true) => {
    let seen = 0;
    return {
      name,
      after: (m: string, _args: unknown[], r: unknown) => m === method && when(r) && ++seen === n,
    } satisfies KillPoint;
  };
  const ciState = (state: string) => (r: unknown) =>
    (r as { containerInstance?: { lifecycleState?: string } }).containerInstance?.lifecycleState === state;
  const wrState = (state: string) => (r: unknown) =>
    (r as { workRequest?: { lifecycleState?: string } }).workRequest?.lifecycleState === state;

  it('replace: in the middle of OCI calls and waits', async () => {
    env = await ociWorld({ strategy: { type: 'replace' } });
    const { outcomes } = await crashAt(env.world, [
      // The create landed, its answer (the OCID) was lost with the process; the retry token replays it.
      dieAfter('the first create answered', 'createContainerInstance'),
      dieAfter('the second create answered', 'createContainerInstance', 2),
      dieAfter('waiting for ACTIVE (CREATING)', 'getContainerInstance', 1, ciState('CREATING')),
      dieAfter('a new backend created, its work request not read', 'createBackend'),
      dieAfter('the create work request IN_PROGRESS', 'getWorkRequest', 1, wrState('IN_PROGRESS')),
      dieAfter('waiting for the new backend to be OK', 'getBackendHealth'),
      dieAfter('a drain sent, its work request not read', 'updateBackend'),
      dieAfter('an old backend deleted, its work request not read', 'deleteBackend'),
      dieAfter('stopping an old instance (UPDATING)', 'getContainerInstance', 1, ciState('UPDATING')),
      dieAfter('an old instance deleted, not yet DELETED', 'deleteContainerInstance'),
    ]);
    expect(outcomes).toHaveLength(10);
    bothWays(outcomes);
  }, 300_000);

  it('onInterrupt forward: killed in the middle of OCI waits, the deploy resumes, nothing made twice', async () => {
    env = await ociWorld({ strategy: { type: 'replace', onInterrupt: 'forward' } });
    const { outcomes } = await crashAt(env.world, [
      // The resumed start repeats both creates with their opc-retry-tokens: OCI answers with the same
      // instances, still CREATING, and the resumed step waits for them.
      dieAfter('the first create answered', 'createContainerInstance'),
      dieAfter('waiting for ACTIVE (CREATING)', 'getContainerInstance', 1, ciState('CREATING')),
      dieAfter('a new backend created, its work request not read', 'createBackend'),
      dieAfter('the create work request IN_PROGRESS', 'getWorkRequest', 1, wrState('IN_PROGRESS')),
      dieAfter('waiting for the new backend to be OK', 'getBackendHealth'),
    ]);
    expect(outcomes.map((o) => o.state)).toEqual(Array(5).fill('succeeded'));
    // One retry token per instance ever made: a repeated create (if the lookup did not find the instance
    // first) was a replay of its token.
    const creates = env.fake.calls.filter((c) => c.op === 'CreateContainerInstance' && c.status < 300);
    expect(new Set(creates.map((c) => c.retryToken)).size).toBe(env.fake.ci.instances.size);
  }, 300_000);

  it('a failed deploy killed while it rolls back, and a recovery killed while it recovers', async () => {
    env = await ociWorld({ strategy: { type: 'replace' } });
    const w = env.world;
    // v2's instances go FAILED: the deploy rolls back, and dies at the rollback's first step.
    env.fake.ci.failWhen = (d) =>
      JSON.stringify(d).includes('"VERSION":"v2"') ? 'the image could not be pulled' : undefined;
    let cp = await ControlPlane.start(w.dataDir, w.drivers);
    expect(await cp.deploy('web', w.spec('v1'))).toMatchObject({ ok: true });
    let failed = false;
    const died = await cp.deployAndDie('web', w.spec('v2'), {
      after: (m, args) => {
        const e = args[1] as { phase?: string } | undefined;
        if (m === 'journal' && e?.phase === 'failed') failed = true;
        return m === 'journal' && failed && e?.phase === 'begin';
      },
    });
    expect(died).toBe('died');
    const first = await recoverAndCheck(w, cp, 'killed while rolling back');
    // The history keeps why the deploy failed, and says it was interrupted.
    const d = (await first.cp.deps.repo.listDeployments('web', { limit: 1 }))[0]!;
    expect(d.error).toMatch(/FAILED: the image could not be pulled.*interrupted/s);
    expect((await first.cp.deps.repo.getRevision('web', 2))?.reason).toMatch(/could not be pulled/);
    cp = first.cp;
    expect(await cp.deploy('web', w.spec('v3'))).toMatchObject({ ok: true });

    // v4 killed after its instances started; the control plane recovering it dies at its first step.
    expect(await cp.deployAndDie('web', w.spec('v4'), { step: 1, phase: 'done' })).toBe('died');
    await cp.close();
    cp = await ControlPlane.start(w.dataDir, w.drivers);
    cp.mortal.dieAfter((m, args) => m === 'journal' && (args[1] as { phase?: string }).phase === 'begin');
    void cp.recover();
    await waitFor(() => cp.mortal.dead, { message: 'the recovering control plane to die' });
    const second = await recoverAndCheck(w, cp, 'killed while recovering');
    expect(second.state).toBe('rolled-back');
    await second.cp.close();
  }, 300_000);
});
