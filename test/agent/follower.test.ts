import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { RegistryFollower } from '../../src/agent/follower.js';
import type { Registration, Registry } from '../../src/cluster/registry.js';
import { FakeRouter } from '../../src/router/fake/fake-router.js';
import type { ServiceSpec } from '../../src/spec/schema.js';
import { waitFor } from '../helpers/wait.js';

const reg = (instance: string, port: number, revision = 1): Registration => ({
  cluster: 'default',
  service: 'web',
  protocol: 'http',
  instance,
  address: '127.0.0.1',
  port,
  priority: 1,
  annotations: {},
  revision,
});

/** A registry watch the test drives: it hears of changes only while not stuck (a consumer lost with a server). */
class FakeWatch {
  stuck = false;
  stopped = false;
  private version = 0;
  private wake: (() => void) | undefined;
  constructor(private set: Registration[]) {}
  current(): Registration[] {
    return [...this.set];
  }
  push(set: Registration[]): void {
    this.set = [...set];
    this.version++;
    this.wake?.();
  }
  async *[Symbol.asyncIterator](): AsyncIterator<Registration[]> {
    let seen = -1;
    while (!this.stopped) {
      if (seen !== this.version) {
        seen = this.version;
        yield this.current();
        continue;
      }
      await new Promise<void>((r) => {
        this.wake = r;
      });
    }
  }
  stop(): void {
    this.stopped = true;
    this.wake?.();
  }
}

class FakeRegistry {
  readonly ttlMs = 60_000;
  readonly regs = new Map<string, Registration>();
  readonly watches: FakeWatch[] = [];
  failWatch = false;
  async watch(): Promise<FakeWatch> {
    if (this.failWatch) throw new Error('JetStream unreachable');
    const w = new FakeWatch([...this.regs.values()]);
    this.watches.push(w);
    return w;
  }
  get last(): FakeWatch {
    return this.watches.at(-1)!;
  }
  put(r: Registration): void {
    this.regs.set(r.instance, r);
    this.notify();
  }
  del(id: string): void {
    this.regs.delete(id);
    this.notify();
  }
  private notify(): void {
    for (const w of this.watches) if (!w.stuck && !w.stopped) w.push([...this.regs.values()]);
  }
}

const SPEC = {
  traffic: { listen: '127.0.0.1:9000', drainTimeout: 1000, router: { kind: 'fake' } },
} as unknown as ServiceSpec;

describe('registry follower: drain requests', () => {
  let follower: RegistryFollower | undefined;
  afterEach(async () => {
    await follower?.close();
  });

  async function setup(initial: Registration[]) {
    const registry = new FakeRegistry();
    for (const r of initial) registry.put(r);
    const router = new FakeRouter();
    follower = new RegistryFollower({
      node: 'n1',
      registry: registry as unknown as Registry,
      router,
      dataDir: '/nonexistent',
      logger: pino({ level: 'silent' }),
      listenOffset: 0,
      cluster: () => 'default',
    });
    await follower.follow('web', SPEC);
    const states = async () =>
      Object.fromEntries(((await router.status('web'))?.backends ?? []).map((b) => [b.id, b.state]));
    await waitFor(async () => Object.keys(await states()).length === initial.length, {
      message: 'the initial backends',
    });
    return { registry, router, follower, states };
  }

  const opIndex = (router: FakeRouter, op: 'addBackends' | 'drain', id: string) =>
    router.calls.findIndex(
      (c) =>
        c.op === op &&
        (c.args[1] as Array<string | { id: string }>).some((x) => (typeof x === 'string' ? x : x.id) === id),
    );

  it('a watch behind the update: the replacement is made active before the old one drains; the watch is renewed', async () => {
    const { registry, router, follower, states } = await setup([reg('a1', 1), reg('a2', 2)]);
    registry.last.stuck = true;
    registry.put(reg('b1', 3, 2));
    registry.del('a1');
    const reply = await follower.onDrain({
      service: 'web',
      instances: ['a1'],
      replacements: [reg('b1', 3, 2)],
    });
    expect(reply).toMatchObject({ node: 'n1', confirmed: true, drained: true });
    expect(opIndex(router, 'addBackends', 'b1')).toBeGreaterThan(-1);
    expect(opIndex(router, 'addBackends', 'b1')).toBeLessThan(opIndex(router, 'drain', 'a1'));
    await waitFor(() => registry.watches.length === 2, { message: 'the watch renewed' });
    await waitFor(
      async () => JSON.stringify(await states()) === JSON.stringify({ a2: 'active', b1: 'active' }),
      {
        message: 'a1 removed, b1 and a2 active',
      },
    );
  });

  it('a watch that cannot be renewed: the old instance is drained all the same, and a set that still lists it does not bring it back', async () => {
    const { registry, follower, states } = await setup([reg('a1', 1), reg('a2', 2)]);
    const stale = registry.last;
    stale.stuck = true;
    registry.failWatch = true;
    registry.put(reg('b1', 3, 2));
    registry.del('a1');
    const reply = await follower.onDrain({
      service: 'web',
      instances: ['a1'],
      replacements: [reg('b1', 3, 2)],
    });
    expect(reply).toMatchObject({ confirmed: true, drained: true });
    expect(await states()).toEqual({ a2: 'active', b1: 'active' });
    // The stale watch delivers a set (a change it did see) that still lists a1: a1 stays out.
    stale.push([reg('a1', 1), reg('a2', 2), reg('c1', 4)]);
    await waitFor(async () => (await states()).c1 === 'active', { message: 'the stale set applied' });
    expect(await states()).toEqual({ a2: 'active', b1: 'active', c1: 'active' });
    // Once the watch showed a1 gone, a1 listed again is a new registration (a restarted instance).
    stale.push([reg('a2', 2), reg('b1', 3, 2)]);
    await waitFor(async () => (await states()).c1 !== 'active', { message: 'c1 drained' });
    stale.push([reg('a1', 1), reg('a2', 2), reg('b1', 3, 2)]);
    await waitFor(async () => (await states()).a1 === 'active', { message: 'a1 registered again' });
  });

  it('a renewed watch that lists a buried instance: registered again after the drain request', async () => {
    const { registry, follower, states } = await setup([reg('a1', 1), reg('a2', 2)]);
    registry.last.stuck = true;
    registry.del('a1');
    await follower.onDrain({ service: 'web', instances: ['a1'] });
    // Restarted in place and registered again; the stuck watch never saw either change: the renewal does.
    registry.put(reg('a1', 1));
    await waitFor(() => registry.watches.length === 2, { message: 'the watch renewed' });
    await waitFor(async () => (await states()).a1 === 'active', { message: 'a1 active again' });
  });

  it('a set from a watch that is behind never drains a replacement added from a drain request', async () => {
    const { registry, follower, states } = await setup([reg('a1', 1), reg('a2', 2)]);
    const stale = registry.last;
    stale.stuck = true;
    registry.failWatch = true;
    registry.put(reg('b1', 3, 2));
    registry.del('a1');
    await follower.onDrain({ service: 'web', instances: ['a1'], replacements: [reg('b1', 3, 2)] });
    // The stale watch delivers a set (another change it did see) that lacks b1: b1 stays.
    stale.push([reg('a1', 1), reg('a2', 2), reg('c1', 4)]);
    await waitFor(async () => (await states()).c1 === 'active', { message: 'the stale set applied' });
    expect((await states()).b1).toBe('active');
    // Once a set lists b1, it is an ordinary backend: a later set without it drains it.
    stale.push([reg('a2', 2), reg('b1', 3, 2)]);
    await waitFor(async () => (await states()).c1 !== 'active', { message: 'c1 drained' });
    stale.push([reg('a2', 2)]);
    await waitFor(async () => (await states()).b1 !== 'active', { message: 'b1 drained once deregistered' });
  });

  it('a node that does not follow the service confirms at once', async () => {
    const { follower } = await setup([reg('a1', 1)]);
    expect(await follower.onDrain({ service: 'other', instances: ['x'] })).toMatchObject({ confirmed: true });
  });

  it('a router that cannot be changed: not confirmed, nothing drained', async () => {
    const { registry, router, follower, states } = await setup([reg('a1', 1), reg('a2', 2)]);
    registry.put(reg('b1', 3, 2));
    registry.del('a1');
    await waitFor(async () => (await states()).b1 === 'active');
    router.failNext('status', new Error('admin socket gone'));
    const reply = await follower.onDrain({
      service: 'web',
      instances: ['a2'],
      replacements: [reg('b2', 5, 2)],
    });
    expect(reply.confirmed).toBe(false);
    expect((await states()).a2).toBe('active');
  });
});
