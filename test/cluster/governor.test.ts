import { jetstream } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Governor } from '../../src/cluster/governor.js';
import { type NatsServer, requireNats, startNats } from '../helpers/nats.js';
import { waitFor } from '../helpers/wait.js';

describe.skipIf(!requireNats())('Governor on a real nats-server', () => {
  let server: NatsServer;
  const conns: NatsConnection[] = [];
  const conn = async () => {
    const nc = await connect({ servers: server.url });
    conns.push(nc);
    return nc;
  };
  let n = 0;
  const name = () => `g${++n}`;

  beforeAll(async () => {
    server = await startNats();
  });
  afterAll(async () => {
    await Promise.all(conns.map((c) => c.close()));
    await server?.stop();
  });

  it('never lets more than its capacity hold a lease (5 contenders, capacity 2)', async () => {
    const g = name();
    await Governor.add(await conn(), g, { capacity: 2, expiryMs: 60_000 });
    const holding = new Set<string>();
    let most = 0;
    const granted: string[] = [];
    const contender = async (who: string) => {
      // Each contender has its own connection, as agents on different nodes would.
      const gov = await Governor.open(await conn(), g);
      for (let round = 0; round < 3; round++) {
        const lease = await gov.acquire(who, { timeoutMs: 30_000, waitMs: 20, maxWaitMs: 200 });
        // The local window (after acquire returned, before release is sent) lies inside the server's.
        holding.add(who);
        most = Math.max(most, holding.size);
        granted.push(who);
        expect((await gov.list()).length).toBeLessThanOrEqual(2);
        await new Promise((r) => setTimeout(r, 30)); // the work done under the lease
        holding.delete(who);
        await gov.release(lease);
      }
    };
    await Promise.all(['a', 'b', 'c', 'd', 'e'].map(contender));
    expect(most).toBe(2);
    expect(granted.length).toBe(15);
    expect(new Set(granted)).toEqual(new Set(['a', 'b', 'c', 'd', 'e']));
  });

  it('gives an unreleased lease to the next waiter once it expires', async () => {
    const g = name();
    const gov = await Governor.add(await conn(), g, { capacity: 1, expiryMs: 1000 });
    const crashed = await gov.acquire('crashed-holder');
    const t0 = Date.now();
    const next = await gov.acquire('next', { timeoutMs: 15_000, waitMs: 50, maxWaitMs: 200 });
    expect(Date.now() - crashed.since.getTime()).toBeGreaterThanOrEqual(900);
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect((await gov.list()).map((l) => l.holder)).toEqual(['next']);
    // Releasing the expired lease later is harmless and does not touch the new one.
    await gov.release(crashed);
    expect((await gov.list()).map((l) => l.seq)).toEqual([next.seq]);
  });

  it('times out with the holders named when no slot comes free', async () => {
    const gov = await Governor.add(await conn(), name(), { capacity: 1, expiryMs: 60_000 });
    await gov.acquire('node-1');
    await expect(gov.acquire('node-2', { timeoutMs: 300, waitMs: 20 })).rejects.toMatchObject({
      code: 'LOCK_HELD',
      message: expect.stringContaining('held by node-1'),
    });
  });

  it('applies a capacity change at once', async () => {
    const g = name();
    const gov = await Governor.add(await conn(), g, { capacity: 1, expiryMs: 60_000 });
    const a = await gov.acquire('a');
    const waiting = gov.acquire('b', { timeoutMs: 20_000, waitMs: 20, maxWaitMs: 100 });
    await waitFor(async () => (await gov.config()).held === 1);
    await gov.set({ capacity: 2 });
    const b = await waiting;
    expect((await gov.list()).map((l) => l.holder)).toEqual(['a', 'b']);
    expect(await gov.config()).toMatchObject({ capacity: 2, expiryMs: 60_000, held: 2 });

    // Lowering below what is held takes effect at once too: the server drops the oldest lease.
    await gov.set({ capacity: 1 });
    expect((await gov.list()).map((l) => l.holder)).toEqual(['b']);
    expect(await gov.holds(a)).toBe(false);
    expect(await gov.holds(b)).toBe(true);
    await expect(gov.acquire('c', { timeoutMs: 200, waitMs: 20 })).rejects.toMatchObject({
      code: 'LOCK_HELD',
    });
    await gov.release(b);
    expect((await gov.acquire('c', { timeoutMs: 2000 })).holder).toBe('c');
  });

  it('reset drops every lease', async () => {
    const gov = await Governor.add(await conn(), name(), { capacity: 2, expiryMs: 60_000 });
    await gov.acquire('a');
    await gov.acquire('b');
    expect((await gov.list()).length).toBe(2);
    await gov.reset();
    expect(await gov.list()).toEqual([]);
    expect((await gov.acquire('c', { timeoutMs: 1000 })).holder).toBe('c');
  });

  // acquire repeats a publish whose answer was lost with the same message id. That must not take a second
  // slot, nor be refused as "full" by its own first copy: the server answers "duplicate" before it checks
  // the limits.
  it('answers a repeated acquire publish (same message id) as a duplicate, even when full', async () => {
    const nc = await conn();
    const gov = await Governor.add(nc, name(), { capacity: 1, expiryMs: 60_000 });
    const js = jetstream(nc);
    const body = JSON.stringify({ holder: 'node-1', at: new Date().toISOString() });
    const first = await js.publish(gov.subject, body, { msgID: 'node-1.x' });
    const again = await js.publish(gov.subject, body, { msgID: 'node-1.x' });
    expect(again).toMatchObject({ duplicate: true, seq: first.seq });
    expect((await gov.list()).map((l) => l.seq)).toEqual([first.seq]);
  });

  it('refuses a capacity below 1 and an expiry below 1 s', async () => {
    const nc = await conn();
    await expect(Governor.add(nc, name(), { capacity: 0, expiryMs: 60_000 })).rejects.toMatchObject({
      code: 'BAD_INPUT',
    });
    await expect(Governor.add(nc, name(), { capacity: 1, expiryMs: 10 })).rejects.toMatchObject({
      code: 'BAD_INPUT',
    });
  });
});
