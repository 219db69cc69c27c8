import { afterEach, describe, expect, it } from 'vitest';
import { crashAt } from './crash/every-step.js';
import { ociWorld } from './crash/oci-world.js';

/**
 * Issue 6: a cloud deploy interrupted mid-way is recovered through the engine's journal. The control
 * plane (store, drivers, OCI clients) dies right after each journal entry of a deploy; a new one over
 * the same data dir and the same OCI recovers it (forward once traffic moved, else back) with exactly
 * one set serving, nothing orphaned, nothing created twice, and the next deploy works.
 */
describe('engine × oci × oci-lb: the control plane dies at every journaled step', () => {
  let env: Awaited<ReturnType<typeof ociWorld>> | undefined;
  afterEach(async () => {
    await env?.close();
    env = undefined;
  });

  it('replace, 2 replicas', async () => {
    env = await ociWorld({ strategy: { type: 'replace' } });
    const { outcomes } = await crashAt(env.world, 'journal');
    expect(outcomes.length).toBeGreaterThanOrEqual(10);
    const states = new Set(outcomes.map((o) => o.state));
    expect(states).toEqual(new Set(['succeeded', 'rolled-back']));
  }, 300_000);
});
