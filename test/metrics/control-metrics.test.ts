import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { LockHeldError } from '../../src/core/errors.js';
import type { Instance } from '../../src/core/types.js';
import { takeDeployLock } from '../../src/engine/deploy-lock.js';
import type { EngineDeps } from '../../src/engine/deps.js';
import type { DeployRun } from '../../src/engine/observer.js';
import { ControlMetrics } from '../../src/metrics/control-metrics.js';
import { registerProxyMetrics } from '../../src/metrics/proxy-metrics.js';
import { Scrape } from '../../src/metrics/scrape.js';
import { FakeRouter } from '../../src/router/fake/fake-router.js';
import { FakeRuntime } from '../../src/runtime/fake/fake-runtime.js';
import { serviceSchema } from '../../src/spec/schema.js';
import { MemoryStore } from '../../src/store/fake/memory-store.js';
import { Repo } from '../../src/store/repo.js';
import { promtoolCheck, requirePromtool, sample, samples } from '../helpers/promtool.js';

const spec = serviceSchema.parse({ runtime: 'process', command: 'node', traffic: { listen: '127.0.0.1:1' } });
const run = (kind: 'deploy' | 'rollback', deployment: string): DeployRun => ({
  service: 'web',
  deployment,
  kind,
  strategy: kind === 'rollback' ? 'replace' : 'canary',
  revision: 3,
  fromRevision: 2,
  startedAt: Date.now() - 2500,
  spec,
});
const result = (ok: boolean, state: string) =>
  ({ type: 'result', ok, deployment: 'd', service: 'web', revision: 3, state, message: 'm' }) as const;

describe('control-plane metrics from engine events (prom-client, checked by promtool)', () => {
  it('counts deploys by outcome, their duration, rollbacks, verdicts, restarts and lock waits', async () => {
    const scrape = new Scrape();
    const instances: Instance[] = [
      { id: 'a', service: 'web', revision: 3, state: 'running' } as Instance,
      { id: 'b', service: 'web', revision: 3, state: 'running' } as Instance,
      { id: 'c', service: 'web', revision: 2, state: 'exited' } as Instance,
    ];
    const m = new ControlMetrics(scrape, async () => instances);
    const d1 = run('deploy', 'd1');
    m.deployEvent(d1, {
      type: 'deployment',
      deployment: 'd1',
      service: 'web',
      fromRevision: 2,
      toRevision: 3,
      kind: 'deploy',
    });
    m.deployEvent(d1, { type: 'analysis', decision: 'wait', reason: 'few' });
    m.deployEvent(d1, { type: 'analysis', decision: 'promote', reason: 'ok' });
    m.deployEvent(d1, result(true, 'succeeded'));
    const d2 = run('deploy', 'd2');
    m.deployEvent(d2, {
      type: 'deployment',
      deployment: 'd2',
      service: 'web',
      fromRevision: 3,
      toRevision: 4,
      kind: 'deploy',
    });
    m.deployEvent(d2, result(false, 'rolled-back'));
    m.deployEvent(run('rollback', 'd3'), result(true, 'succeeded'));
    m.instanceRestarted('web');

    // Lock contention, through the engine's own lock code.
    const deps = {
      repo: new Repo(new MemoryStore()),
      runtime: new FakeRuntime(),
      router: new FakeRouter(),
      logger: pino({ level: 'silent' }),
      holder: 'test on another-host',
      observers: [m],
    } as EngineDeps;
    await takeDeployLock(deps, 'web', 'x1');
    await expect(takeDeployLock(deps, 'web', 'x2')).rejects.toBeInstanceOf(LockHeldError);

    const text = await scrape.render();
    if (requirePromtool()) expect(promtoolCheck(text)).toEqual({ code: 0, output: '' });
    const s = samples(text);
    const web = { service: 'web' };
    expect(sample(s, 'baton_deploys_total', { ...web, strategy: 'canary', outcome: 'succeeded' })).toBe(1);
    expect(sample(s, 'baton_deploys_total', { ...web, strategy: 'canary', outcome: 'rolled_back' })).toBe(1);
    expect(sample(s, 'baton_deploys_total', { ...web, strategy: 'replace', outcome: 'succeeded' })).toBe(1);
    const ok = { ...web, strategy: 'canary', outcome: 'succeeded' };
    expect(sample(s, 'baton_deploy_duration_seconds_count', ok)).toBe(1);
    expect(sample(s, 'baton_deploy_duration_seconds_bucket', { ...ok, le: '1' })).toBe(0);
    expect(sample(s, 'baton_deploy_duration_seconds_bucket', { ...ok, le: '5' })).toBe(1);
    expect(sample(s, 'baton_deploys_running', web)).toBe(0);
    expect(sample(s, 'baton_rollbacks_total', { ...web, trigger: 'failed_deploy' })).toBe(1);
    expect(sample(s, 'baton_rollbacks_total', { ...web, trigger: 'requested' })).toBe(1);
    expect(sample(s, 'baton_analysis_verdicts_total', { ...web, verdict: 'promote' })).toBe(1);
    expect(sample(s, 'baton_analysis_verdicts_total', { ...web, verdict: 'wait' })).toBe(1);
    expect(sample(s, 'baton_instance_restarts_total', web)).toBe(1);
    expect(sample(s, 'baton_deploy_lock_waits_total', { ...web, outcome: 'refused' })).toBe(1);
    expect(sample(s, 'baton_instances', { ...web, revision: '3', state: 'running' })).toBe(2);
    expect(sample(s, 'baton_instances', { ...web, revision: '2', state: 'exited' })).toBe(1);
    expect(sample(s, 'baton_instances_listed')).toBe(1);
  });

  it('a proxy that does not answer is baton_proxy_up 0 with no proxy series, and the scrape still answers', async () => {
    const scrape = new Scrape();
    registerProxyMetrics(scrape, async () => {
      throw new Error('no proxy');
    });
    const text = await scrape.render();
    if (requirePromtool()) expect(promtoolCheck(text)).toEqual({ code: 0, output: '' });
    const s = samples(text);
    expect(sample(s, 'baton_proxy_up')).toBe(0);
    expect([...s.keys()].filter((k) => k !== 'baton_proxy_up')).toEqual([]);
  });
});
