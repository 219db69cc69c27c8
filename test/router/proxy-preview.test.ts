import { createServer } from 'node:net';
import { Agent } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { waitFor } from '../helpers/wait.js';
import { freePort, send, startBackend, startInProcessProxy, type TestBackend, tempDir } from './helpers.js';

const S = 'web';

/** Can this port be bound again (nobody listens on it)? */
const bindable = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });

describe('proxy preview listener and snapshot', () => {
  const undo: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    for (const f of undo.splice(0).reverse()) await f();
  });
  const backend = async (name: string): Promise<TestBackend> => {
    const b = await startBackend(name);
    const wss = new WebSocketServer({ server: b.server });
    wss.on('connection', (sock) => sock.send(name));
    undo.push(async () => {
      wss.close();
      await b.close();
    });
    return b;
  };
  const agent = (): Agent => {
    const a = new Agent();
    undo.push(async () => {
      if (!a.closed && !a.destroyed) await a.close();
    });
    return a;
  };

  /** Stable `a` (revision 1, active), blue-green set `p1`, `p2` (revision 2, standby). */
  const setup = async (dir?: string) => {
    const p = await startInProcessProxy(dir);
    undo.push(p.cleanup);
    const [listen, preview] = [await freePort(), await freePort()];
    await p.router.ensureRoute({
      service: S,
      listen: `127.0.0.1:${listen}`,
      preview: `127.0.0.1:${preview}`,
      drainTimeoutMs: 1000,
    });
    const [a, p1, p2] = [await backend('a'), await backend('p1'), await backend('p2')];
    await p.router.addBackends(S, [{ id: 'a', address: a.address, revision: 1 }]);
    await p.router.addBackends(
      S,
      [
        { id: 'p1', address: p1.address, revision: 2 },
        { id: 'p2', address: p2.address, revision: 2 },
      ],
      { standby: true },
    );
    return { p, listen, preview, a, p1, p2 };
  };

  it('answers from the standby set of the preview revision; production never reaches it', async () => {
    const { p, listen, preview, a, p1, p2 } = await setup();
    const c = agent();
    const none = await send(c, `http://127.0.0.1:${preview}/`);
    expect(none).toMatchObject({ status: 503, text: 'baton: no preview revision for service web\n' });
    await p.router.setPreview(S, 2);
    const seen = new Set<string>();
    for (let i = 0; i < 20; i++) {
      const r = await send(c, `http://127.0.0.1:${preview}/`);
      expect(r.status).toBe(200);
      seen.add(r.text);
      expect((await send(c, `http://127.0.0.1:${listen}/`)).text).toBe('a');
    }
    expect(seen).toEqual(new Set(['p1', 'p2']));
    expect(a.hits).toBe(20);
    expect(p1.hits + p2.hits).toBe(20);
    // A WebSocket through the preview listener reaches the standby set too.
    const ws = new WebSocket(`ws://127.0.0.1:${preview}/`);
    const name = await new Promise<string>((resolve, reject) => {
      ws.once('message', (m) => resolve(String(m)));
      ws.once('error', reject);
    });
    ws.close();
    expect(['p1', 'p2']).toContain(name);
    // Preview traffic is in the backends' counts, never in the revision counters analysis reads.
    const st = await p.router.status(S);
    expect(st?.backends.map((b) => [b.id, b.state, b.requests])).toEqual([
      ['a', 'active', 20],
      ['p1', 'standby', 11],
      ['p2', 'standby', 10],
    ]);
    expect(st?.revisions.map((r) => [r.revision, r.requests])).toEqual([
      [1, 20],
      [2, 0],
    ]);
    // Promotion: the set takes production traffic; a draining revision is not previewed.
    await p.router.switchTo(S, ['p1', 'p2']);
    expect(['p1', 'p2']).toContain((await send(c, `http://127.0.0.1:${listen}/`)).text);
    await p.router.setPreview(S, 1);
    expect((await send(c, `http://127.0.0.1:${preview}/`)).status).toBe(503);
  });

  it('moves the preview listener on ensureRoute, closes it without preview and on removeRoute', async () => {
    const { p, listen, preview } = await setup();
    await p.router.setPreview(S, 2);
    const c = agent();
    const moved = await freePort();
    await p.router.ensureRoute({
      service: S,
      listen: `127.0.0.1:${listen}`,
      preview: `127.0.0.1:${moved}`,
      drainTimeoutMs: 1000,
    });
    expect((await send(c, `http://127.0.0.1:${moved}/`)).status).toBe(200);
    expect(await bindable(preview)).toBe(true);
    await p.router.ensureRoute({ service: S, listen: `127.0.0.1:${listen}`, drainTimeoutMs: 1000 });
    expect(await bindable(moved)).toBe(true);
    await p.router.ensureRoute({
      service: S,
      listen: `127.0.0.1:${listen}`,
      preview: `127.0.0.1:${preview}`,
      drainTimeoutMs: 1000,
    });
    expect(await bindable(preview)).toBe(false);
    await p.router.removeRoute(S);
    await waitFor(() => bindable(preview), { timeoutMs: 5000, message: 'preview port released' });
    await waitFor(() => bindable(listen), { timeoutMs: 5000, message: 'listen port released' });
  });

  it('restores split, preview revision, mode and standby states from its snapshot', async () => {
    const tmp = await tempDir();
    undo.push(tmp.remove);
    const first = await setup(tmp.dir);
    const { p, listen, preview } = first;
    const split = {
      weights: [
        { revision: 1, percent: 80 },
        { revision: 2, percent: 20 },
      ],
      canary: 2,
      stable: 1,
      sticky: true,
    };
    await p.router.setSplit(S, split);
    await p.router.setPreview(S, 2);
    await p.router.setMode(S, { kind: 'maintenance', body: 'upgrading' });
    const before = await p.router.status(S);
    await p.cleanup();
    const again = await startInProcessProxy(tmp.dir);
    undo.push(again.cleanup);
    const after = await again.router.status(S);
    expect(after).toMatchObject({
      preview: `127.0.0.1:${preview}`,
      split,
      previewRevision: 2,
      mode: { kind: 'maintenance', body: 'upgrading' },
      held: 0,
    });
    expect(after?.backends.map((b) => [b.id, b.state])).toEqual(before?.backends.map((b) => [b.id, b.state]));
    const c = agent();
    expect(await send(c, `http://127.0.0.1:${listen}/`)).toMatchObject({ status: 503, text: 'upgrading' });
    expect(['p1', 'p2']).toContain((await send(c, `http://127.0.0.1:${preview}/`)).text);
    await again.router.setMode(S, { kind: 'serve' });
    // Revision 2 is standby: forced canary falls back to the active stable backend.
    expect(
      (await send(c, `http://127.0.0.1:${listen}/`, { headers: { 'x-baton-revision': 'canary' } })).text,
    ).toBe('a');
  });
});
