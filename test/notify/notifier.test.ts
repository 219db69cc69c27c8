import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { DeployEvent } from '../../src/engine/events.js';
import type { DeployRun } from '../../src/engine/observer.js';
import { notificationsOf } from '../../src/notify/notification.js';
import { Notifier } from '../../src/notify/notifier.js';
import { serviceSchema } from '../../src/spec/schema.js';
import { type Receiver, startReceiver } from '../helpers/receiver.js';
import { waitFor } from '../helpers/wait.js';

const AT = new Date('2026-01-02T03:04:05.000Z');

function runWith(notify: unknown[]): DeployRun {
  const spec = serviceSchema.parse({
    runtime: 'process',
    command: 'node',
    traffic: { listen: '127.0.0.1:1' },
    strategy: { type: 'canary', steps: [{ setWeight: 10 }] },
    notify,
  });
  return {
    service: 'web',
    deployment: 'd1',
    kind: 'deploy',
    strategy: 'canary',
    revision: 5,
    fromRevision: 4,
    startedAt: 0,
    spec,
  };
}

describe('notificationsOf (pure)', () => {
  const run = runWith([]);
  const base = {
    service: 'web',
    deployment: 'd1',
    kind: 'deploy',
    strategy: 'canary',
    revision: 5,
    fromRevision: 4,
    at: '2026-01-02T03:04:05.000Z',
  };

  it('maps each event to its notification, exactly', () => {
    const of = (e: DeployEvent, last?: string) => notificationsOf(run, e, AT, last);
    expect(
      of({
        type: 'deployment',
        deployment: 'd1',
        service: 'web',
        fromRevision: 4,
        toRevision: 5,
        kind: 'deploy',
      }),
    ).toEqual([
      { event: 'started', ...base, message: 'deploy of web to revision 5 started (canary from revision 4)' },
    ]);
    expect(of({ type: 'waiting', for: 'promotion', message: 'baton promote web' })).toEqual([
      { event: 'waiting', ...base, message: 'baton promote web' },
    ]);
    expect(of({ type: 'waiting', for: 'rollback window', message: 'keeping' })).toEqual([]);
    expect(of({ type: 'analysis', decision: 'wait', reason: 'too few requests' })).toEqual([]);
    expect(of({ type: 'analysis', decision: 'promote', reason: 'no difference' })).toEqual([
      {
        event: 'analysis',
        ...base,
        decision: 'promote',
        message: 'canary analysis of web revision 5: promote (no difference)',
      },
    ]);
    expect(of({ type: 'analysis', decision: 'promote', reason: 'again' }, 'promote')).toEqual([]);
    const result = { type: 'result', deployment: 'd1', service: 'web', revision: 5 } as const;
    expect(of({ ...result, ok: true, state: 'succeeded', message: 'web revision 5 is serving' })).toEqual([
      { event: 'succeeded', ...base, state: 'succeeded', message: 'web revision 5 is serving' },
    ]);
    expect(of({ ...result, ok: false, state: 'rolled-back', message: 'it broke; rolled back' })).toEqual([
      { event: 'failed', ...base, state: 'rolled-back', message: 'it broke; rolled back' },
      { event: 'rolled-back', ...base, state: 'rolled-back', message: 'web is back on revision 4' },
    ]);
    expect(of({ ...result, ok: false, state: 'failed', message: 'rollback incomplete' })).toEqual([
      { event: 'failed', ...base, state: 'failed', message: 'rollback incomplete' },
    ]);
  });
});

describe('Notifier (real HTTP receivers on 127.0.0.1)', () => {
  const receivers: Receiver[] = [];
  const receiver = async (answer?: (n: number) => number | 'hold') => {
    const r = await startReceiver(answer);
    receivers.push(r);
    return r;
  };
  afterEach(async () => {
    await Promise.all(receivers.splice(0).map((r) => r.close()));
  });
  const log = pino({ level: 'silent' });
  const verdict = (decision: 'promote' | 'abort' | 'wait'): DeployEvent => ({
    type: 'analysis',
    decision,
    reason: 'r',
  });

  it('retries a failing receiver with doubling backoff, and does not retry a 400', async () => {
    const flaky = await receiver((n) => (n < 2 ? 503 : 200));
    const refusing = await receiver(() => 400);
    const n = new Notifier({ logger: log, backoffMs: 100 });
    const times: number[] = [];
    const run = runWith([{ webhook: `${flaky.url}/a` }, { webhook: `${refusing.url}/b` }]);
    const started = Date.now();
    n.deployEvent(run, verdict('promote'));
    await waitFor(() => flaky.got.length === 3, { message: 'three tries' });
    times.push(Date.now() - started);
    await n.drained();
    expect(flaky.got.map((g) => (g.body as { decision: string }).decision)).toEqual([
      'promote',
      'promote',
      'promote',
    ]);
    // 100 ms, then 200 ms between tries: at least 300 ms in all.
    expect(times[0]).toBeGreaterThanOrEqual(300);
    expect(refusing.got).toHaveLength(1);
  });

  it('a receiver that never answers delays only its own queue; events are filtered per receiver', async () => {
    const stuck = await receiver(() => 'hold');
    const good = await receiver();
    const n = new Notifier({ logger: log, timeoutMs: 60_000 });
    const run = runWith([{ slack: `${stuck.url}/s` }, { webhook: `${good.url}/g`, events: ['analysis'] }]);
    // Returns at once although the first receiver holds its first request.
    for (const d of ['promote', 'wait', 'abort'] as const) n.deployEvent(run, verdict(d));
    await waitFor(() => good.got.length === 2, { message: 'the good receiver served' });
    expect(good.got.map((g) => (g.body as { decision: string }).decision)).toEqual(['promote', 'abort']);
    expect(stuck.got).toHaveLength(1);
    expect(stuck.holding).toBe(1);
    expect(stuck.got[0]!.body).toEqual({
      text: '[baton] web analysis: canary analysis of web revision 5: promote (r)',
    });
  });
});
