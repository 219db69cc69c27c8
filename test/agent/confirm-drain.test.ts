import { connect, type NatsConnection } from '@nats-io/transport-node';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  confirmDrain,
  type DrainReply,
  type DrainRequest,
  SUBJECTS,
  serve,
} from '../../src/agent/control.js';
import { type NatsServer, requireNats, startNats } from '../helpers/nats.js';

const REQ: DrainRequest = { service: 'web', instances: ['old'], replacements: [] };
const logger = pino({ level: 'silent' });

describe.skipIf(!requireNats())('confirmDrain: every live node must confirm', () => {
  let server: NatsServer;
  let nc: NatsConnection;
  beforeAll(async () => {
    server = await startNats();
    nc = await connect({ servers: server.url });
  });
  afterAll(async () => {
    await nc?.close();
    await server?.stop();
  });

  /** A node's follower that answers `replies` in turn (the last one from then on). */
  function node(name: string, replies: Array<Partial<DrainReply>>) {
    let n = 0;
    const asked: number[] = [];
    const sub = serve<DrainRequest, DrainReply>(
      nc,
      SUBJECTS.drain,
      async () => {
        asked.push(Date.now());
        const r = replies[Math.min(n++, replies.length - 1)]!;
        return { node: name, drained: true, inFlight: 0, ...r };
      },
      () => undefined,
    );
    return { asked, stop: () => sub.unsubscribe() };
  }

  it('asks again until a node that could not confirm does; nodes that confirmed are not waited for again', async () => {
    const a = node('a', [{ confirmed: true }]);
    const b = node('b', [
      { confirmed: false, reason: 'router busy' },
      { confirmed: false },
      { confirmed: true },
    ]);
    try {
      const ok = await confirmDrain(nc, REQ, {
        attemptMs: 2000,
        liveNodes: async () => ['a', 'b'],
        silentMs: 60_000,
        stopped: () => false,
        logger,
      });
      expect(ok).toBe(true);
      expect(b.asked).toHaveLength(3);
    } finally {
      a.stop();
      b.stop();
    }
  });

  it('an answer without `confirmed` (an older agent) counts as confirmed', async () => {
    const a = node('a', [{}]);
    try {
      const ok = await confirmDrain(nc, REQ, {
        attemptMs: 2000,
        liveNodes: async () => ['a'],
        silentMs: 60_000,
        stopped: () => false,
        logger,
      });
      expect(ok).toBe(true);
    } finally {
      a.stop();
    }
  });

  it('a silent node is waited for while it is listed live; once its status aged out, the drain is done', async () => {
    const a = node('a', [{ confirmed: true }]);
    let live = ['a', 'dead'];
    const t0 = Date.now();
    setTimeout(() => {
      live = ['a'];
    }, 1500);
    try {
      const ok = await confirmDrain(nc, REQ, {
        attemptMs: 500,
        liveNodes: async () => live,
        silentMs: 60_000,
        stopped: () => false,
        logger,
      });
      expect(ok).toBe(true);
      expect(Date.now() - t0).toBeGreaterThanOrEqual(1500);
    } finally {
      a.stop();
    }
  });

  it('live nodes that cannot be read: a node of the last list that never answered is taken as gone after silentMs', async () => {
    const a = node('a', [{ confirmed: true }]);
    let reads = 0;
    const t0 = Date.now();
    try {
      const ok = await confirmDrain(nc, REQ, {
        attemptMs: 300,
        liveNodes: async () => {
          if (reads++ > 0) throw new Error('JetStream unreachable');
          return ['a', 'dead'];
        },
        silentMs: 1500,
        stopped: () => false,
        logger,
      });
      expect(ok).toBe(true);
      expect(Date.now() - t0).toBeGreaterThanOrEqual(1500);
    } finally {
      a.stop();
    }
  });

  it('a node that answers "not confirmed" is never dropped; only stopping the agent ends the wait, with false', async () => {
    const a = node('a', [{ confirmed: false, reason: 'router unreachable' }]);
    let stopped = false;
    setTimeout(() => {
      stopped = true;
    }, 2000);
    let reads = 0;
    try {
      const ok = await confirmDrain(nc, REQ, {
        attemptMs: 300,
        liveNodes: async () => {
          if (reads++ > 0) throw new Error('JetStream unreachable');
          return ['a'];
        },
        silentMs: 100,
        stopped: () => stopped,
        logger,
      });
      expect(ok).toBe(false);
      expect(a.asked.length).toBeGreaterThan(1);
    } finally {
      a.stop();
    }
  });
});
